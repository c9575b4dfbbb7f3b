"""The classic iris MLP tutorial: load_iris's raw measurements in centimetres (0.1 to 7.9, left unscaled: they
are on one scale already), `train_test_split(..., stratify=y, shuffle=True)`-style split, a 4-16-3 MLP,
nn.CrossEntropyLoss and Adam(lr=1e-2).
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr

EXPECT = 'clean'


def stratified_split(x: torch.Tensor, y: torch.Tensor, val_per_class: int = 10, seed: int = 0
                     ) -> tuple[TensorDataset, TensorDataset]:
    gen = torch.Generator().manual_seed(seed)
    val_idx = torch.cat([torch.nonzero(y == c).flatten()[torch.randperm(int((y == c).sum()), generator=gen)]
                         [:val_per_class] for c in y.unique()])
    train_mask = torch.ones(len(y), dtype=torch.bool)
    train_mask[val_idx] = False
    train_idx = torch.nonzero(train_mask).flatten()
    train_idx = train_idx[torch.randperm(len(train_idx), generator=gen)]
    return TensorDataset(x[train_idx], y[train_idx]), TensorDataset(x[val_idx], y[val_idx])


class IrisNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


def experiment() -> nr.Experiment:
    train, val = stratified_split(*rc.table("iris"))
    return nr.Experiment(
        name="iris-raw", task="classification", train=train, val=val,
        model=IrisNet,
        loss=nn.CrossEntropyLoss(),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-2),
        batch_size=16, epochs=50,
    )
