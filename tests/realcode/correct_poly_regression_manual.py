"""pytorch/examples regression/main.py: a Linear layer fits a degree-4 polynomial, updated by hand.

The step zeroes the gradients with `fc.zero_grad()`, takes `F.smooth_l1_loss`, and applies
`param.data.add_(-LR * param.grad)` itself: no optimizer in the setup, and `optimizer.step()` is never called.
The targets are the polynomial's raw values (coefficients ~ N(0, 5^2)), as in the example.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = 'clean'

LR = 0.1


def train_step(fc: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: object) -> torch.Tensor:
    batch_x, batch_y = batch
    fc.zero_grad()  # reset gradients
    output = F.smooth_l1_loss(fc(batch_x), batch_y)
    output.backward()
    for param in fc.parameters():  # apply gradients
        param.data.add_(-LR * param.grad)  # type: ignore[operator]
    return output


def experiment() -> nr.Experiment:
    train, val = rc.polynomial()
    return nr.Experiment(
        name="poly-regression-manual", task="regression", train=train, val=val,
        model=lambda: torch.nn.Linear(rc.POLY_DEGREE, 1),
        loss=F.smooth_l1_loss,
        train_step=train_step,
        batch_size=32, epochs=20,
    )
