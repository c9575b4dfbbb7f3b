"""A loss summed over the batch instead of averaged: the step size grows with the batch."""

from __future__ import annotations

import _zoo
import torch.nn.functional as F

EXPECT = {'warn': ['loss-pairing']}


def experiment():
    return _zoo.experiment("summed-loss", "classification", _zoo.wine(), lambda: _zoo.mlp(13, 3),
                           loss=lambda out, y: F.cross_entropy(out, y, reduction="sum"),
                           optimizer=_zoo.adam(3e-3))
