"""90/10 imbalanced classes and a final bias that starts uniform."""

from __future__ import annotations

import _zoo
import torch

EXPECT = {'warn': ['init-bias']}


def imbalanced(ds):
    x, y = ds.tensors
    return torch.utils.data.TensorDataset(x, (y == 0).long())  # class 1 (10%): the digit 0


def experiment():
    train, val = _zoo.digits()
    return _zoo.experiment("imbalanced-uniform-init", "classification", (imbalanced(train), imbalanced(val)),
                           lambda: _zoo.mlp(64, 2))
