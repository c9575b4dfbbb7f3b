"""StepLR(step_size=2, gamma=0.1) meant per epoch, stepped every batch."""

from __future__ import annotations

import _zoo
import torch

EXPECT = {'fail': ['lr-schedule']}


def experiment():
    return _zoo.experiment("epoch-schedule-per-step", "classification", _zoo.wine(), lambda: _zoo.mlp(13, 3),
                           scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1),
                           scheduler_interval="step")
