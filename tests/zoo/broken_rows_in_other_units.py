"""Wine with a few rows recorded in other units (x1000, a file from another lab appended unconverted)."""

from __future__ import annotations

import _zoo
from torch.utils.data import TensorDataset

EXPECT = {'warn': ['outliers']}


def experiment():
    train, val = _zoo.wine()
    x, y = train.tensors
    x = x.clone()
    x[:4] *= 1000.0
    return _zoo.experiment("wine-mixed-units", "classification", (TensorDataset(x, y), val), lambda: _zoo.mlp(13, 3))
