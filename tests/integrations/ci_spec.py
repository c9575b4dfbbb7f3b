"""A small classification spec for the CI tests; NNRECIPE_TEST_BROKEN=1 puts a softmax before the cross-entropy."""

import os

import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr


def _blobs(n: int, seed: int) -> TensorDataset:
    centres = torch.randn(4, 8, generator=torch.Generator().manual_seed(1234)) * 1.5
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=gen)
    return TensorDataset(centres[y] + torch.randn(n, 8, generator=gen), y)


def _model() -> nn.Module:
    layers = [nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4)]
    if os.environ.get("NNRECIPE_TEST_BROKEN") == "1":
        layers.append(nn.Softmax(dim=-1))
    return nn.Sequential(*layers)


def experiment() -> nr.Experiment:
    return nr.Experiment(name="ci-blobs", task="classification", train=_blobs(512, 1), val=_blobs(256, 2),
                         model=_model, optimizer=lambda p: torch.optim.Adam(p, lr=3e-3), batch_size=32)
