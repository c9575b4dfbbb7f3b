"""Small real data and models the zoo's spec files share: sklearn digits (images) and wine (a table),
diabetes (regression), and character-level text (the Zen of Python) for next-token prediction."""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr


def _split(x: torch.Tensor, y: torch.Tensor, n_train: int) -> tuple[TensorDataset, TensorDataset]:
    gen = torch.Generator().manual_seed(0)
    order = torch.randperm(len(x), generator=gen)
    x, y = x[order], y[order]
    return TensorDataset(x[:n_train], y[:n_train]), TensorDataset(x[n_train:], y[n_train:])


@functools.cache
def digits_tensors(scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8x8 digits as (N, 1, 8, 8) floats; scale=1 gives standardized pixels, scale=None-like raw via raw=."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1)
    return x, torch.tensor(d.target)


def digits(*, raw: bool = False, n_train: int = 1200) -> tuple[TensorDataset, TensorDataset]:
    x, y = digits_tensors()
    x = x * (255.0 / 16.0) if raw else (x - x.mean()) / x.std()
    return _split(x, y, n_train)


def wine() -> tuple[TensorDataset, TensorDataset]:
    from sklearn.datasets import load_wine

    d = load_wine()
    x = torch.tensor(d.data, dtype=torch.float32)
    x = (x - x.mean(0)) / x.std(0)
    return _split(x, torch.tensor(d.target), 130)


def diabetes(*, standardize_target: bool = True) -> tuple[TensorDataset, TensorDataset]:
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    x = torch.tensor(d.data, dtype=torch.float32)
    x = (x - x.mean(0)) / x.std(0)
    y = torch.tensor(d.target, dtype=torch.float32).unsqueeze(1)
    if standardize_target:
        y = (y - y.mean()) / y.std()
    return _split(x, y, 340)


def _sentences(n: int, seed: int = 0) -> str:
    """Seeded made-up sentences: a small grammar, so characters follow each other predictably."""
    import random

    rng = random.Random(seed)
    adjs = ["small", "quick", "silent", "noisy", "deep", "shallow", "clean", "broken", "wide", "narrow", "old",
            "new", "slow", "dense", "sparse", "tiny"]
    nouns = ["network", "batch", "gradient", "layer", "model", "loss", "label", "optimizer", "kernel", "token",
             "weight", "bias", "image", "sample", "tensor", "graph"]
    verbs = ["trains", "breaks", "fits", "learns", "fails", "ignores", "follows", "overfits", "sees", "masks",
             "scales", "copies", "shifts", "drops", "clips", "stacks"]
    words = lambda: f"the {rng.choice(adjs)} {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(adjs)} {rng.choice(nouns)}"  # noqa: E731
    return " ".join(words() + "." for _ in range(n))


TEXT = _sentences(120)
VOCAB = sorted(set(TEXT))


def chars(*, length: int = 32, shift: int = 1) -> tuple[TensorDataset, TensorDataset]:
    """Windows of the text as token ids: input ids[t], target ids[t + shift] (shift=1 is next-token).

    The validation windows come from the end of the text, so no window overlaps one of the other split.
    """
    ids = torch.tensor([VOCAB.index(c) for c in TEXT])
    cut = int(0.85 * len(ids))

    def windows(part: torch.Tensor, stride: int) -> TensorDataset:
        starts = range(0, len(part) - length - 1, stride)
        return TensorDataset(torch.stack([part[s : s + length] for s in starts]),
                             torch.stack([part[s + shift : s + shift + length] for s in starts]))

    return windows(ids[:cut], 4), windows(ids[cut:], length)


def mlp(inputs: int, outputs: int, hidden: int = 64) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


def convnet() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16 * 16, 10))


def adam(lr: float = 3e-3) -> Any:
    return lambda params: torch.optim.Adam(params, lr=lr)


class CharLSTM(nn.Module):
    """Embedding, an LSTM and a head; `batch_first` and the output reshaping are the knobs the zoo breaks."""

    def __init__(self, *, batch_first: bool = True, bidirectional: bool = False, wrong_view: bool = False,
                 permute: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB), 32)
        time_major = permute or wrong_view  # these feed the LSTM (T, B, C) themselves
        self.rnn = nn.LSTM(32, 64, batch_first=batch_first and not time_major, bidirectional=bidirectional)
        self.head = nn.Linear(64 * (2 if bidirectional else 1), len(VOCAB))
        self.wrong_view, self.permute = wrong_view, permute

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids)  # (B, T, C)
        b, t = ids.shape
        if self.permute or self.wrong_view:
            h, _ = self.rnn(h.permute(1, 0, 2))  # (T, B, H): a time-major LSTM
            h = h.reshape(b, t, -1) if self.wrong_view else h.permute(1, 0, 2)  # view mixes the batch
        else:
            h, _ = self.rnn(h)
        return self.head(h)  # (B, T, V)


class CharTransformer(nn.Module):
    def __init__(self, *, causal: bool = True, length: int = 32) -> None:
        super().__init__()
        self.causal = causal
        self.embed = nn.Embedding(len(VOCAB), 32)
        self.pos = nn.Parameter(torch.randn(length, 32) * 0.1)
        layer = nn.TransformerEncoderLayer(32, 2, 64, dropout=0.0, batch_first=True)
        self.body = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(32, len(VOCAB))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        h = self.embed(ids) + self.pos[:t]
        mask = nn.Transformer.generate_square_subsequent_mask(t) if self.causal else None
        return self.head(self.body(h, mask=mask, is_causal=self.causal))


def experiment(name: str, task: str, data: tuple[Any, Any], model: Any, **fields: Any) -> nr.Experiment:
    fields.setdefault("optimizer", adam())
    fields.setdefault("batch_size", 32)
    fields.setdefault("epochs", 5)
    return nr.Experiment(name=name, task=task, train=data[0], val=data[1], model=model, **fields)
