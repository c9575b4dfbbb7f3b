"""OneCycleLR sized to epochs x steps per epoch, stepped every batch."""

from __future__ import annotations

import math

import _zoo
import torch

EXPECT = 'clean'




def experiment():
    train, val = _zoo.diabetes()
    steps = 5 * math.ceil(len(train) / 32)
    return _zoo.experiment("onecycle", "regression", (train, val), lambda: _zoo.mlp(10, 1),
                           scheduler=lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=steps),
                           scheduler_interval="step")
