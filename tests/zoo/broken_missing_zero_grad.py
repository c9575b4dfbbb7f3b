"""A custom train_step without optimizer.zero_grad(): gradients pile up."""

from __future__ import annotations

import _zoo
import torch.nn.functional as F

EXPECT = {'fail': ['step-matches-reference']}


def train_step(model, batch, optimizer):
    x, y = batch
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def experiment():
    return _zoo.experiment("missing-zero-grad", "classification", _zoo.digits(), lambda: _zoo.mlp(64, 10),
                           train_step=train_step)
