"""Tiny experiments for tests: learnable synthetic data, correct by construction, with knobs to break them."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr


def blobs(n: int, *, classes: int = 4, features: int = 8, seed: int = 0) -> TensorDataset:
    """Gaussian blobs around fixed class centres: easy to learn, inputs roughly standardized."""
    gen = torch.Generator().manual_seed(1234)
    centres = torch.randn(classes, features, generator=gen) * 1.5
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=gen)
    x = centres[y] + torch.randn(n, features, generator=gen)
    return TensorDataset(x, y)


def mlp(features: int = 8, classes: int = 4, hidden: int = 32) -> nn.Module:
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def classification(**overrides: Any) -> nr.Experiment:
    fields: dict[str, Any] = dict(
        name="blobs", task="classification", train=blobs(512, seed=1), val=blobs(256, seed=2),
        model=mlp, optimizer=lambda p: torch.optim.Adam(p, lr=3e-3), batch_size=32, epochs=3,
    )
    fields.update(overrides)
    return nr.Experiment(**fields)


def linear_regression_data(n: int, *, features: int = 6, seed: int = 0) -> TensorDataset:
    gen = torch.Generator().manual_seed(99)
    w = torch.randn(features, 1, generator=gen)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=gen)
    y = x @ w / features**0.5 + 0.1 * torch.randn(n, 1, generator=gen)
    return TensorDataset(x, (y - 0.0) / y.std())


def regression(**overrides: Any) -> nr.Experiment:
    fields: dict[str, Any] = dict(
        name="linreg", task="regression", train=linear_regression_data(512, seed=1),
        val=linear_regression_data(256, seed=2), model=lambda: mlp(6, 1),
        optimizer=lambda p: torch.optim.Adam(p, lr=3e-3), batch_size=32, epochs=3,
    )
    fields.update(overrides)
    return nr.Experiment(**fields)


class TinyCausalLM(nn.Module):
    """Embedding + causal 1-D convolution (left padding only): output t sees inputs <= t."""

    def __init__(self, vocab: int = 24, dim: int = 32, kernel: int = 3) -> None:
        super().__init__()
        self.kernel = kernel
        self.embed = nn.Embedding(vocab, dim)
        self.conv = nn.Conv1d(dim, dim, kernel)
        self.head = nn.Linear(dim, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids).transpose(1, 2)  # (B, C, T)
        h = nn.functional.pad(h, (self.kernel - 1, 0))
        h = torch.relu(self.conv(h)).transpose(1, 2)  # (B, T, C)
        return self.head(h)  # (B, T, V)


def counting_sequences(n: int, *, length: int = 16, vocab: int = 24, seed: int = 0) -> TensorDataset:
    """Sequences that count modulo `vocab` from a start with a stride; the next token follows from the last two.

    Each (start, stride) pair is used once, and `seed` picks disjoint pairs for different splits (seed k takes
    the k-th block of 256 of one fixed permutation), so there are no duplicates and no leakage between splits.
    """
    pairs = torch.cartesian_prod(torch.arange(vocab), torch.arange(1, vocab))  # (vocab * (vocab-1), 2)
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(7))
    first = 256 * max(seed - 1, 0)
    block = order[first : first + min(n, 256)]
    assert len(block) == n, "not enough distinct sequences for this split"
    start, stride = pairs[block, :1], pairs[block, 1:]
    ids = (start + stride * torch.arange(length + 1)) % vocab
    return TensorDataset(ids[:, :-1].contiguous(), ids[:, 1:].contiguous())


def sequence(**overrides: Any) -> nr.Experiment:
    fields: dict[str, Any] = dict(
        name="counting", task="sequence", train=counting_sequences(256, seed=1), val=counting_sequences(64, seed=2),
        model=TinyCausalLM, optimizer=lambda p: torch.optim.Adam(p, lr=3e-3), batch_size=32, epochs=3,
    )
    fields.update(overrides)
    return nr.Experiment(**fields)
