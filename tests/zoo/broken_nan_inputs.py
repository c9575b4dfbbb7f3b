"""A few NaN values in the training inputs: the loss turns NaN."""

from __future__ import annotations

import _zoo
import torch

EXPECT = {'fail': ['loss-decreases']}


def experiment():
    train, val = _zoo.wine()
    x = train.tensors[0].clone()
    x[::9, 3] = float("nan")
    return _zoo.experiment("nan-inputs", "classification", (torch.utils.data.TensorDataset(x, train.tensors[1]), val),
                           lambda: _zoo.mlp(13, 3))
