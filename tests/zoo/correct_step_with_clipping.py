"""A custom train_step that clips gradients (the twin of clipping the loss)."""

from __future__ import annotations

import _zoo
import torch
import torch.nn.functional as F

EXPECT = 'clean'


def train_step(model, batch, optimizer):
    x, y = batch
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()
    return loss


def experiment():
    return _zoo.experiment("step-with-clipping", "classification", _zoo.digits(), lambda: _zoo.mlp(64, 10),
                           train_step=train_step)
