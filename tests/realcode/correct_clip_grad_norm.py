"""A custom train step with gradient clipping, the way most training loops write it (timm, fairseq,
transformers' Trainer): zero_grad, forward, loss, backward, `clip_grad_norm_(model.parameters(), 1.0)`, step,
and the loss handed back as a Python float (`loss.item()`) for logging. An MLP on the flattened digits
(pixels in [0, 1], ToTensor's scaling), AdamW.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = 'clean'

MAX_NORM = 1.0


def train_step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor],
               optimizer: torch.optim.Optimizer) -> float:
    images, labels = batch
    optimizer.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    optimizer.step()
    return loss.item()


def experiment() -> nr.Experiment:
    train, val = rc.digits_flat()
    return nr.Experiment(
        name="clip-grad-norm", task="classification", train=train, val=val,
        model=lambda: rc.mlp([64, 128, 64, 10]),
        optimizer=lambda params: torch.optim.AdamW(params, lr=2e-3),
        train_step=train_step,
        batch_size=32, epochs=10,
    )
