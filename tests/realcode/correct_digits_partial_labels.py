"""Digits with a third of the training labels withheld (semi-supervised style: the unlabelled rows carry -1),
trained with an `nn.CrossEntropyLoss(ignore_index=-1)` instance as the loss, which skips them; validation is
fully labelled. An MLP on the standardized pixels, Adam. The ignore index is read from the loss instance.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr

EXPECT = 'clean'


def experiment() -> nr.Experiment:
    train, val = rc.digits_images()
    x, y = train.tensors
    y = y.clone()
    hidden = torch.randperm(len(y), generator=torch.Generator().manual_seed(5))[: len(y) // 3]
    y[hidden] = -1  # unlabelled
    return nr.Experiment(
        name="digits-partial-labels", task="classification", train=TensorDataset(x, y), val=val,
        model=lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)),
        loss=nn.CrossEntropyLoss(ignore_index=-1),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        batch_size=64, epochs=15,
    )
