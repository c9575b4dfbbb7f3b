"""Wine with the label left in the table as its last feature (a join that kept the answer column)."""

from __future__ import annotations

import _zoo
import torch
from torch import nn
from torch.utils.data import TensorDataset

EXPECT = {'fail': ['target-leakage']}


def _with_label(ds: TensorDataset) -> TensorDataset:
    x, y = ds.tensors
    return TensorDataset(torch.cat([x, (y.float() - 1.0).unsqueeze(1)], dim=1), y)


def experiment():
    train, val = _zoo.wine()
    return _zoo.experiment("wine-label-column", "classification", (_with_label(train), _with_label(val)),
                           lambda: nn.Sequential(nn.Linear(14, 32), nn.ReLU(), nn.Linear(32, 3)))
