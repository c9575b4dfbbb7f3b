"""Gradient accumulation over 4 micro-batches with the division by `gradient_accumulation_steps` left out:
the applied gradient is 4x the batch's, which silently multiplies the learning rate by 4 (and changes with
the accumulation setting). Expected: `step-matches-reference` fails.
"""

from __future__ import annotations

import _realcode as rc
import correct_grad_accumulation_hf as base
import torch
import torch.nn.functional as F
from torch import nn

import nnrecipe as nr

EXPECT = {'fail': ['step-matches-reference']}


def train_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor],
               optimizer: torch.optim.Optimizer) -> torch.Tensor:
    inputs, labels = batch
    optimizer.zero_grad()
    tr_loss = torch.zeros(())
    for micro_x, micro_y in zip(inputs.chunk(base.GRADIENT_ACCUMULATION_STEPS),
                                labels.chunk(base.GRADIENT_ACCUMULATION_STEPS), strict=True):
        loss = F.cross_entropy(model(micro_x), micro_y)  # the bug: not divided by the accumulation steps
        loss.backward()
        tr_loss += loss.detach() / base.GRADIENT_ACCUMULATION_STEPS
    optimizer.step()
    return tr_loss


def experiment() -> nr.Experiment:
    train, val = rc.digits_images(n_train=1408)
    return nr.Experiment(
        name="grad-accumulation-sum", task="classification", train=train, val=val,
        model=base.model,
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        train_step=train_step,
        batch_size=64, epochs=10,
    )
