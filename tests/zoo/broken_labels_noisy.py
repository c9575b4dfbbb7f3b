"""Digits with one training label in five replaced by another class (a careless annotation pass)."""

from __future__ import annotations

import _zoo
import torch
from torch.utils.data import TensorDataset

EXPECT = {'warn': ['label-issues']}


def experiment():
    train, val = _zoo.digits()
    x, y = train.tensors
    y = y.clone()
    flipped = torch.arange(0, len(y), 5)
    y[flipped] = (y[flipped] + 1 + torch.arange(len(flipped)) % 9) % 10  # another class, never the same one
    return _zoo.experiment("digits-noisy-labels", "classification", (TensorDataset(x, y), val),
                           lambda: _zoo.mlp(64, 10))
