"""The optimizer is built from the body only: the head never learns."""

from __future__ import annotations

import _zoo
import torch

EXPECT = {'fail': ['params-update']}


def experiment():
    return _zoo.experiment("params-missing", "classification", _zoo.wine(), lambda: _zoo.mlp(13, 3),
                           optimizer=lambda params: torch.optim.Adam(list(params)[:2], lr=3e-3))
