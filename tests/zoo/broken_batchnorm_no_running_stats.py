"""BatchNorm without running statistics: eval outputs depend on the batch."""

from __future__ import annotations

import _zoo
from torch import nn

EXPECT = {'fail': ['eval-determinism', 'batch-independence']}


def model():
    return nn.Sequential(nn.Linear(13, 32), nn.BatchNorm1d(32, track_running_stats=False), nn.ReLU(), nn.Linear(32, 3))


def experiment():
    return _zoo.experiment("bn-no-running-stats", "classification", _zoo.wine(), model)
