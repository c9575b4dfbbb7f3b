"""A standardized table (wine) and an MLP with BatchNorm and dropout."""

from __future__ import annotations

import _zoo
from torch import nn

EXPECT = 'clean'


def model():
    return nn.Sequential(nn.Linear(13, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))


def experiment():
    return _zoo.experiment("wine-mlp", "classification", _zoo.wine(), model)
