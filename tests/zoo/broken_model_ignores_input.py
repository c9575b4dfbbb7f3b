"""The input is multiplied by zero on its way in (a leftover debugging line)."""

from __future__ import annotations

import _zoo
from torch import nn

EXPECT = {'fail': ['input-independent']}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = _zoo.mlp(10, 1)

    def forward(self, x):
        return self.net(x * 0.0)


def experiment():
    return _zoo.experiment("ignores-input", "regression", _zoo.diabetes(), Net)
