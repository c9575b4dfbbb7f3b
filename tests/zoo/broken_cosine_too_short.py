"""CosineAnnealingLR sized in epochs (T_max=5) but stepped every batch: zero lr by step 5."""

from __future__ import annotations

import _zoo
import torch

EXPECT = {'fail': ['lr-schedule']}


def experiment():
    return _zoo.experiment("cosine-too-short", "regression", _zoo.diabetes(), lambda: _zoo.mlp(10, 1),
                           scheduler=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5),
                           scheduler_interval="step")
