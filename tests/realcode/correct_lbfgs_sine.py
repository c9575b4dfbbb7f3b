"""pytorch/examples time_sequence_prediction: two LSTMCells learn sine waves, optimized by LBFGS with a closure.

The data is the example's generator (sin((t + random phase) / T)), input data[:, :-1], target data[:, 1:];
the Sequence model steps its cells over the values one at a time; the train step builds the closure
(zero_grad, forward, MSE, backward, return loss) and calls `optimizer.step(closure)`, which evaluates it
several times and returns the first loss. LBFGS(lr=0.8) as the example, with max_iter=3 to keep it small and
the strong-Wolfe line search (without it, full-batch LBFGS here can turn NaN after ~150 steps near the
minimum, far past the example's 15 steps). Full batch, as the example: one step per epoch.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn

import nnrecipe as nr

EXPECT = 'clean'

criterion = nn.MSELoss()


def train_step(seq: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer
               ) -> torch.Tensor:
    input, target = batch

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        out = seq(input)
        loss = criterion(out, target)
        loss.backward()
        return loss

    return optimizer.step(closure)  # type: ignore[arg-type,return-value]


def experiment() -> nr.Experiment:
    train, val = rc.sine_waves()
    return nr.Experiment(
        name="lbfgs-sine", task="regression", train=train, val=val,
        model=rc.SequenceModel,
        loss=criterion,
        optimizer=lambda params: torch.optim.LBFGS(params, lr=0.8, max_iter=3, line_search_fn="strong_wolfe"),
        train_step=train_step,
        batch_size=48, epochs=15,
    )
