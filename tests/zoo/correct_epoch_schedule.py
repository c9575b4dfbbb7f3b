"""StepLR stepped per epoch, as it is meant (the twin of per-step stepping)."""

from __future__ import annotations

import _zoo
import torch

EXPECT = 'clean'


def experiment():
    return _zoo.experiment("epoch-schedule", "classification", _zoo.wine(), lambda: _zoo.mlp(13, 3),
                           scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1))
