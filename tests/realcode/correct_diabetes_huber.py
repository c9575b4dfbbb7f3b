"""A tabular regression script in the common scikit-learn + PyTorch style: load_diabetes, StandardScaler
fitted on the training rows for the features and another for the target, an MLP, `nn.HuberLoss()`,
SGD(momentum=0.9, weight_decay=1e-4) and MultiStepLR(milestones=[30, 40], gamma=0.1) stepped per epoch.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr

EXPECT = 'clean'


def data(*, column_target: bool = True) -> tuple[TensorDataset, TensorDataset]:
    x, y = rc.table("diabetes")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(42))
    x, y = x[order], y[order].unsqueeze(1)
    n_train = 350
    x_scaler = rc.StandardScaler().fit(x[:n_train])
    y_scaler = rc.StandardScaler().fit(y[:n_train])
    x, y = x_scaler.transform(x), y_scaler.transform(y)
    if not column_target:
        y = y.squeeze(1)  # broken twin: (N,) targets against (N, 1) predictions
    return TensorDataset(x[:n_train], y[:n_train]), TensorDataset(x[n_train:], y[n_train:])


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def experiment() -> nr.Experiment:
    return nr.Experiment(
        name="diabetes-huber", task="regression", train=data()[0], val=data()[1],
        model=model,
        loss=nn.HuberLoss(delta=1.0),
        optimizer=lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4),
        scheduler=lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[30, 40], gamma=0.1),
        batch_size=32, epochs=50,
    )
