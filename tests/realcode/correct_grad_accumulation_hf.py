"""Gradient accumulation the way transformers' Trainer and Accelerate tutorials write it: the batch is split
into `gradient_accumulation_steps` micro-batches, each micro-batch loss is divided by that number before
backward, and the optimizer steps once. A small convnet on digits, Adam.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F
from torch import nn

import nnrecipe as nr

EXPECT = 'clean'

GRADIENT_ACCUMULATION_STEPS = 4


def model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))


def train_step(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor],
               optimizer: torch.optim.Optimizer) -> torch.Tensor:
    inputs, labels = batch
    optimizer.zero_grad()
    tr_loss = torch.zeros(())
    for micro_x, micro_y in zip(inputs.chunk(GRADIENT_ACCUMULATION_STEPS),
                                labels.chunk(GRADIENT_ACCUMULATION_STEPS), strict=True):
        loss = F.cross_entropy(model(micro_x), micro_y)
        loss = loss / GRADIENT_ACCUMULATION_STEPS
        loss.backward()
        tr_loss += loss.detach()
    optimizer.step()
    return tr_loss


def experiment() -> nr.Experiment:
    train, val = rc.digits_images(n_train=1408)  # 22 batches of 64: every batch splits into 4 equal parts
    return nr.Experiment(
        name="grad-accumulation-hf", task="classification", train=train, val=val,
        model=model,
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        train_step=train_step,
        batch_size=64, epochs=10,
    )
