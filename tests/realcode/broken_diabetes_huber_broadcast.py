"""The diabetes Huber regression with the target kept 1-D: `torch.tensor(y)` is (N,), the model's output is
(N, 1), and `nn.HuberLoss()(output, target)` broadcasts them to an (N, N) matrix (PyTorch only warns), so every
prediction is pulled toward every target of the batch: the model learns the batch mean.

Expected: `loss-pairing` fails.
"""

from __future__ import annotations

import correct_diabetes_huber as base
import torch
from torch import nn

import nnrecipe as nr

EXPECT = {'fail': ['loss-pairing']}


def experiment() -> nr.Experiment:
    train, val = base.data(column_target=False)
    return nr.Experiment(
        name="diabetes-huber-broadcast", task="regression", train=train, val=val,
        model=base.model,
        loss=nn.HuberLoss(delta=1.0),
        optimizer=lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4),
        scheduler=lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[30, 40], gamma=0.1),
        batch_size=32, epochs=50,
    )
