"""time_sequence_prediction's LBFGS step with `optimizer.zero_grad()` missing from the closure.

LBFGS calls the closure several times per step; without zero_grad each call adds its gradient to the ones
before (and to the previous step's), so LBFGS works from a sum of stale gradients. Expected:
`step-matches-reference` fails.
"""

from __future__ import annotations

import _realcode as rc
import correct_lbfgs_sine as base
import torch
from torch import nn

import nnrecipe as nr

EXPECT = {'fail': ['step-matches-reference']}


def train_step(seq: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer
               ) -> torch.Tensor:
    input, target = batch

    def closure() -> torch.Tensor:
        out = seq(input)  # the bug: no optimizer.zero_grad() first
        loss = base.criterion(out, target)
        loss.backward()
        return loss

    return optimizer.step(closure)  # type: ignore[arg-type,return-value]


def experiment() -> nr.Experiment:
    train, val = rc.sine_waves()
    return nr.Experiment(
        name="lbfgs-closure-no-zero-grad", task="regression", train=train, val=val,
        model=rc.SequenceModel,
        loss=base.criterion,
        optimizer=lambda params: torch.optim.LBFGS(params, lr=0.8, max_iter=3, line_search_fn="strong_wolfe"),
        train_step=train_step,
        batch_size=48, epochs=15,
    )
