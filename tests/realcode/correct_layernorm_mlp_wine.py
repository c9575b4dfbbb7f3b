"""A pre-LayerNorm residual MLP (the transformer-block style applied to a table) on load_wine, standardized.

Stem Linear, two residual blocks `x + fc2(dropout(gelu(fc1(LayerNorm(x)))))`, a final LayerNorm and a head;
AdamW and a CosineAnnealingLR over the planned epochs, stepped per epoch.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr

EXPECT = 'clean'


class LayerNorm(nn.Module):
    """LayerNorm written out, as several code bases carry their own (bias optional, nanoGPT-style):
    normalizes each sample over its features. `dim=0` is the broken twin (the statistics of the batch)."""

    def __init__(self, ndim: int, dim: int = -1) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(self.dim, keepdim=True)
        var = x.var(self.dim, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + 1e-5) * self.weight + self.bias


class ResidualBlock(nn.Module):
    def __init__(self, d: int, dropout: float, norm_dim: int) -> None:
        super().__init__()
        self.ln = LayerNorm(d, dim=norm_dim)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.drop(nn.functional.gelu(self.fc1(self.ln(x)))))


class ResMLP(nn.Module):
    def __init__(self, n_features: int = 13, d: int = 32, n_classes: int = 3, dropout: float = 0.1,
                 norm_dim: int = -1) -> None:
        super().__init__()
        self.stem = nn.Linear(n_features, d)
        self.blocks = nn.Sequential(*[ResidualBlock(d, dropout, norm_dim) for _ in range(2)])
        self.ln_f = LayerNorm(d, dim=norm_dim)
        self.head = nn.Linear(d, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.ln_f(self.blocks(self.stem(x))))


def wine_standardized() -> tuple[TensorDataset, TensorDataset]:
    raw_train, raw_val = rc.shuffled_split(*rc.table("wine"), 130)
    scaler = rc.StandardScaler().fit(raw_train.tensors[0])
    return (TensorDataset(scaler.transform(raw_train.tensors[0]), raw_train.tensors[1]),
            TensorDataset(scaler.transform(raw_val.tensors[0]), raw_val.tensors[1]))


def experiment() -> nr.Experiment:
    train, val = wine_standardized()
    return nr.Experiment(
        name="layernorm-mlp-wine", task="classification", train=train, val=val,
        model=ResMLP,
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05),
        scheduler=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40),
        batch_size=16, epochs=40,
    )
