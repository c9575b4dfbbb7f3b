"""The iris MLP with the split taken as `X[:120], X[120:]` without shuffling. iris is stored sorted by class,
so the validation rows are all virginica and training sees only 20 of them. Expected: `class-balance` fails.
"""

from __future__ import annotations

import _realcode as rc
import correct_iris_raw as base
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr

EXPECT = {'fail': ['class-balance']}


def experiment() -> nr.Experiment:
    x, y = rc.table("iris")
    train, val = TensorDataset(x[:120], y[:120]), TensorDataset(x[120:], y[120:])
    return nr.Experiment(
        name="iris-unshuffled-split", task="classification", train=train, val=val,
        model=base.IrisNet,
        loss=nn.CrossEntropyLoss(),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-2),
        batch_size=16, epochs=50,
    )
