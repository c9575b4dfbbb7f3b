"""Gradient accumulation over 4 micro-batches, each loss divided by 4."""

from __future__ import annotations

import _zoo
import torch
import torch.nn.functional as F

EXPECT = 'clean'


def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    total = 0.0
    for xs, ys in zip(x.chunk(4), y.chunk(4), strict=True):
        loss = F.mse_loss(model(xs), ys) * len(ys) / len(y)
        loss.backward()
        total += loss.item()
    optimizer.step()
    return torch.tensor(total)


def experiment():
    return _zoo.experiment("accumulation", "regression", _zoo.diabetes(), lambda: _zoo.mlp(10, 1),
                           train_step=train_step)
