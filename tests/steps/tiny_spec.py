"""A tiny, correct, fast spec with capacity and regularizer knobs and an augmentation: steps 3 and 4 finish in seconds.

Set NNRECIPE_TINY_BROKEN=init to get a broken variant (a classifier head 50x too large: init-loss fails).
"""

from __future__ import annotations

import functools
import os

import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr

FEATURES, CLASSES = 8, 4


def blobs(n: int, *, seed: int) -> TensorDataset:
    gen = torch.Generator().manual_seed(7)
    centres = torch.randn(CLASSES, FEATURES, generator=gen) * 2.5  # well apart: a small MLP can fit them
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % CLASSES
    x = centres[y] + torch.randn(n, FEATURES, generator=gen)
    return TensorDataset(x, y)


class MLP(nn.Module):
    def __init__(self, *, width: float = 1.0, depth: int = 1, dropout: float = 0.0, head_scale: float = 1.0) -> None:
        super().__init__()
        hidden = max(2, int(16 * width))
        layers: list[nn.Module] = []
        size = FEATURES
        for _ in range(depth):
            layers += [nn.Linear(size, hidden), nn.ReLU(), nn.Dropout(dropout)]
            size = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(size, CLASSES)
        with torch.no_grad():
            self.head.weight.mul_(head_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def model() -> functools.partial[MLP]:
    """The factory: MLP with its keyword parameters width, depth and dropout (the knobs below)."""
    head_scale = 50.0 if os.environ.get("NNRECIPE_TINY_BROKEN") == "init" else 1.0
    return functools.partial(MLP, head_scale=head_scale)


def jitter(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return x + 0.1 * torch.randn(x.shape, generator=generator), y


def experiment() -> nr.Experiment:
    return nr.Experiment(
        name="tiny", task="classification", train=blobs(128, seed=1), val=blobs(64, seed=2), test=blobs(64, seed=3),
        model=model(), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), batch_size=32, epochs=3,
        num_classes=CLASSES, capacity={"width": [0.5, 1.0, 2.0, 4.0, 8.0], "depth": [1, 2, 3]},
        regularizers={"dropout": [0.1, 0.3]},
        batch_augment=jitter,
    )
