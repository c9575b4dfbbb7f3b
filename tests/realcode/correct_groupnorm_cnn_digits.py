"""A small CNN with GroupNorm instead of BatchNorm (the detection / small-batch style: conv-GN-ReLU,
GroupNorm(4, 16) and GroupNorm(8, 32)), on digits, with Adam and a small batch size.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn

import nnrecipe as nr

EXPECT = 'clean'


def model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.GroupNorm(4, 16), nn.ReLU(inplace=True),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.GroupNorm(8, 32), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 10),
    )


def experiment() -> nr.Experiment:
    train, val = rc.digits_images()
    return nr.Experiment(
        name="groupnorm-cnn-digits", task="classification", train=train, val=val,
        model=model,
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        batch_size=16, epochs=8,
    )
