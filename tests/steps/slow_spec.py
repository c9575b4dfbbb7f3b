"""tiny_spec, but every training step also waits NNRECIPE_STEP_DELAY seconds (default 0.1) without using the CPU.

Tuning trials then last long enough for two workers to overlap and for a worker to be killed mid-trial, on any
machine load.
"""

from __future__ import annotations

import os
import time

import tiny_spec
import torch
import torch.nn.functional as F
from torch import nn

import nnrecipe as nr


def slow_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer) -> torch.Tensor:
    time.sleep(float(os.environ.get("NNRECIPE_STEP_DELAY", "0.1")))
    x, y = batch
    optimizer.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def experiment() -> nr.Experiment:
    return tiny_spec.experiment().replace(name="tiny-slow", train_step=slow_step)
