"""Functional dropout called with training=True: it stays on at eval."""

from __future__ import annotations

import _zoo
import torch
import torch.nn.functional as F
from torch import nn

EXPECT = {'fail': ['eval-determinism']}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(64, 64), nn.Linear(64, 10)

    def forward(self, x):
        h = F.dropout(torch.relu(self.a(x.flatten(1))), 0.3, training=True)
        return self.b(h)


def experiment():
    return _zoo.experiment("dropout-at-eval", "classification", _zoo.digits(), Net)
