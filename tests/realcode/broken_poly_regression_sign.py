"""pytorch/examples regression/main.py with the hand-written update's sign flipped:
`param.data.add_(LR * param.grad)` climbs the loss instead of descending it.

Expected: `loss-decreases` fails (the loss rises from the first steps).
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = {'fail': ['loss-decreases']}

LR = 0.1


def train_step(fc: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: object) -> torch.Tensor:
    batch_x, batch_y = batch
    fc.zero_grad()
    output = F.smooth_l1_loss(fc(batch_x), batch_y)
    output.backward()
    for param in fc.parameters():
        param.data.add_(LR * param.grad)  # type: ignore[operator]  # the bug: gradient ascent
    return output


def experiment() -> nr.Experiment:
    train, val = rc.polynomial()
    return nr.Experiment(
        name="poly-regression-sign", task="regression", train=train, val=val,
        model=lambda: torch.nn.Linear(rc.POLY_DEGREE, 1),
        loss=F.smooth_l1_loss,
        train_step=train_step,
        batch_size=32, epochs=20,
    )
