"""load_wine exactly as it ships (proline in the hundreds to ~1700, hue ~1, some features ~0.1), with the
normalization inside the model: a `BatchNorm1d(13)` as the first layer standardizes the raw features with
running statistics (a common trick in tabular nets, e.g. fast.ai's tabular model's `bn_cont`). Adam.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn

import nnrecipe as nr

EXPECT = 'clean'


def model(input_norm: bool = True) -> nn.Module:
    layers: list[nn.Module] = [nn.BatchNorm1d(13)] if input_norm else []
    return nn.Sequential(*layers, nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 3))


def experiment() -> nr.Experiment:
    train, val = rc.shuffled_split(*rc.table("wine"), 130, seed=1)
    return nr.Experiment(
        name="wine-raw-batchnorm-input", task="classification", train=train, val=val,
        model=model,
        optimizer=lambda params: torch.optim.Adam(params, lr=3e-3),
        batch_size=16, epochs=30,
    )
