"""Helpers shared by the built-ins: seeded splits, train-only standardization, quiet classifier heads."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset


def stratified_split(y: np.ndarray, sizes: tuple[int, ...], *, seed: int) -> list[np.ndarray]:
    """Indices of disjoint splits of the given sizes (the last split takes the rest), each class-stratified.

    Uses a private RandomState so the global numpy state is never touched.
    """
    from sklearn.model_selection import train_test_split

    rest = np.arange(len(y))
    parts = []
    for size in sizes[:-1]:
        part, rest = train_test_split(rest, train_size=size, stratify=y[rest], random_state=seed)
        parts.append(np.sort(part))
    parts.append(np.sort(rest))
    return parts


def fraction_sizes(n: int, fractions: tuple[float, ...]) -> tuple[int, ...]:
    """Whole split sizes for fractions of n; rounding leftovers go to the first split."""
    sizes = [int(round(n * f)) for f in fractions]
    sizes[0] += n - sum(sizes)
    return tuple(sizes)


def standardizer(train: np.ndarray, axis: int | tuple[int, ...] | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std from the training split only, so no statistic of val or test leaks into the inputs."""
    mean = train.mean(axis=axis, keepdims=True)
    std = train.std(axis=axis, keepdims=True)
    return mean, np.where(std > 0, std, 1.0)


def tensor_dataset(x: np.ndarray, y: np.ndarray, *, x_dtype: torch.dtype, y_dtype: torch.dtype) -> TensorDataset:
    """A fresh TensorDataset that owns copies of the arrays, so a caller editing it never alters the cache."""
    return TensorDataset(torch.tensor(x, dtype=x_dtype), torch.tensor(y, dtype=y_dtype))


def quiet_head(layer: nn.Linear, *, scale: float = 0.1) -> nn.Linear:
    """Shrink a classifier head so the first logits are near zero: the loss starts at -log(1/C).

    Not zero: a zero head passes no gradient to the layers below on the first step.
    """
    with torch.no_grad():
        layer.weight.mul_(scale)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def scaled(base: int, width: float) -> int:
    """A layer size scaled by `width`, never below 1."""
    return max(1, int(round(base * width)))
