"""Labels shuffled apart from their inputs (two independent shuffles)."""

from __future__ import annotations

import _zoo
import torch

EXPECT = {'fail': ['input-independent', 'dumb-baselines']}


def experiment():
    train, val = _zoo.digits()
    x, y = train.tensors
    gen = torch.Generator().manual_seed(1)
    train = torch.utils.data.TensorDataset(x, y[torch.randperm(len(y), generator=gen)])
    return _zoo.experiment("labels-shuffled", "classification", (train, val), lambda: _zoo.mlp(64, 10))
