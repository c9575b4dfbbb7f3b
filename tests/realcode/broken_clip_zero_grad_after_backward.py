"""The clipping train step with `optimizer.zero_grad()` moved between `backward()` and `step()` (a reordering
while adding the clip): the gradients are cleared before the optimizer reads them, so no step changes any
weight. Expected: `step-matches-reference` fails.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = {'fail': ['step-matches-reference']}

MAX_NORM = 1.0


def train_step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor],
               optimizer: torch.optim.Optimizer) -> float:
    images, labels = batch
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    optimizer.zero_grad()  # the bug: clears the gradients the step is about to apply
    optimizer.step()
    return loss.item()


def experiment() -> nr.Experiment:
    train, val = rc.digits_flat()
    return nr.Experiment(
        name="clip-zero-grad-after-backward", task="classification", train=train, val=val,
        model=lambda: rc.mlp([64, 128, 64, 10]),
        optimizer=lambda params: torch.optim.AdamW(params, lr=2e-3),
        train_step=train_step,
        batch_size=32, epochs=10,
    )
