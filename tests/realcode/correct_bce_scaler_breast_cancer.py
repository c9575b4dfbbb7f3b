"""Binary classification with one logit on load_breast_cancer, scikit-learn style: StandardScaler fitted on
the training rows transforms both splits, the model squeezes its output to (B,), and the loss is an
`nn.BCEWithLogitsLoss()` instance called on `y.float()`. AdamW.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr

EXPECT = 'clean'


class Net(nn.Module):
    def __init__(self, n_features: int = 30) -> None:
        super().__init__()
        self.fc1 = nn.Linear(n_features, 16)
        self.fc2 = nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x))).squeeze(-1)  # (B,) logits


def experiment() -> nr.Experiment:
    raw_train, raw_val = rc.breast_cancer(seed=1)
    scaler = rc.StandardScaler().fit(raw_train.tensors[0])
    train = TensorDataset(scaler.transform(raw_train.tensors[0]), raw_train.tensors[1])
    val = TensorDataset(scaler.transform(raw_val.tensors[0]), raw_val.tensors[1])
    criterion = nn.BCEWithLogitsLoss()
    return nr.Experiment(
        name="bce-scaler-breast-cancer", task="classification", train=train, val=val,
        model=Net,
        loss=lambda out, y: criterion(out, y.float()),
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3),
        batch_size=32, epochs=30,
    )
