"""scikit-learn's diabetes data: predict disease progression after one year from 10 baseline measurements.

442 patients, bundled with scikit-learn (offline). Inputs are float32 tensors of shape (10,), each feature
standardized with the training split's statistics; targets are float32 tensors of shape (1,), standardized the
same way (so an MSE of 1.0 is what predicting the training mean scores), matching the model's (B, 1) output.
Splits: 60/20/20 with a fixed seed (266 train / 88 val / 88 test).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from nnrecipe.builtin._common import fraction_sizes, scaled, standardizer, tensor_dataset
from nnrecipe.experiment import Experiment

FEATURES = 10
SPLIT_SEED = 0
DEFAULT_DEPTH = 2
BASE_HIDDEN = 64
NOISE_STD = 0.05  # in standardized units: small next to each feature's spread of 1, so labels stay valid


@functools.lru_cache(maxsize=1)
def _arrays() -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    """((x_train, y_train, x_val, y_val, x_test, y_test), feature names), standardized; made once."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    x, y = data.data.astype(np.float64), data.target.astype(np.float64)[:, None]
    order = np.random.RandomState(SPLIT_SEED).permutation(len(y))  # private generator: global state untouched
    sizes = fraction_sizes(len(y), (0.6, 0.2, 0.2))
    splits = np.split(order, np.cumsum(sizes)[:-1])
    x_mean, x_std = standardizer(x[splits[0]])
    y_mean, y_std = standardizer(y[splits[0]])
    arrays = tuple(
        a.astype(np.float32)
        for idx in splits
        for a in ((x[idx] - x_mean) / x_std, (y[idx] - y_mean) / y_std)
    )
    return arrays, tuple(data.feature_names)


class MLP(nn.Module):
    """Linear-ReLU hidden layers and a linear output of one value."""

    def __init__(self, *, width: float = 1.0, depth: int = DEFAULT_DEPTH, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = FEATURES
        for _ in range(depth):
            hidden = scaled(BASE_HIDDEN, width)
            layers += [nn.Linear(size, hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            size = hidden
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))  # (B, 1)


def batch_augment(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Small gaussian noise on the standardized features; the targets are kept."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    return x + NOISE_STD * noise, y


def experiment() -> Experiment:
    (x_train, y_train, x_val, y_val, x_test, y_test), names = _arrays()
    as_ds = functools.partial(tensor_dataset, x_dtype=torch.float32, y_dtype=torch.float32)
    return Experiment(
        name="diabetes",
        task="regression",
        train=as_ds(x_train, y_train),
        val=as_ds(x_val, y_val),
        test=as_ds(x_test, y_test),
        model=MLP,  # width scales the hidden units, depth is the number of hidden layers (0: linear)
        capacity={"width": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0], "depth": [0, 1, 2, 3, 4]},
        regularizers={"dropout": [0.1, 0.2, 0.3]},
        batch_size=32,
        epochs=100,
        seed=0,
        kind="table",
        batch_augment=batch_augment,
        meta={
            "description": "scikit-learn diabetes: regress one-year disease progression from 10 patient features.",
            # Linear regression explains about half the variance on this data (R^2 ~0.5, so ~0.5 MSE here).
            "reference": {},
            "feature_names": list(names),
        },
    )
