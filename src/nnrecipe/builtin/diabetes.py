"""scikit-learn's bundled diabetes regression set (442 patients, 10 features), with an MLP.

Features and the target are standardized with the training split's statistics; each target is a float32
tensor of shape (1,), matching the model's (B, 1) output. Splits: 60/20/20 with a fixed seed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from nnrecipe.builtin._common import fraction_sizes, scaled, standardizer, tensor_dataset
from nnrecipe.experiment import Experiment

SPLIT_SEED = 0
DEFAULT_DEPTH = 2
BASE_WIDTH = 64
NOISE = 0.05  # feature noise in standardized units: smaller than the measurement noise of such clinical data


@functools.lru_cache(maxsize=1)
def _arrays() -> tuple[tuple[np.ndarray, ...], list[str]]:
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    x, y = data.data.astype(np.float32), data.target.astype(np.float32)[:, None]
    order = np.random.RandomState(SPLIT_SEED).permutation(len(x))  # a private generator: global state untouched
    n_train, n_val, _ = fraction_sizes(len(x), (0.6, 0.2, 0.2))
    train, val, test = order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]
    x_mean, x_std = standardizer(x[train])
    y_mean, y_std = standardizer(y[train])

    def nx(idx: np.ndarray) -> np.ndarray:
        return ((x[idx] - x_mean) / x_std).astype(np.float32)

    def ny(idx: np.ndarray) -> np.ndarray:
        return ((y[idx] - y_mean) / y_std).astype(np.float32)

    arrays = (nx(train), ny(train), nx(val), ny(val), nx(test), ny(test))
    return arrays, list(data.feature_names)


class MLP(nn.Module):
    def __init__(self, *, width: float = 1.0, depth: int = DEFAULT_DEPTH, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d_in = 10
        for _ in range(depth):
            d_out = scaled(BASE_WIDTH, width)
            layers += [nn.Linear(d_in, d_out), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            d_in = d_out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d_in, 1)
        with torch.no_grad():  # start near the (standardized) target mean of 0
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))  # (B, 1)


def model_family(width: float = 1.0, depth: int | None = None, dropout: float = 0.0) -> Callable[[], nn.Module]:
    """A factory of MLPs: `width` scales the hidden units, `depth` is the number of hidden layers."""
    return functools.partial(MLP, width=width, depth=DEFAULT_DEPTH if depth is None else depth, dropout=dropout)


def batch_augment(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Small Gaussian noise on the standardized features (targets kept)."""
    return x + NOISE * torch.randn(x.shape, generator=generator, dtype=x.dtype), y


def experiment() -> Experiment:
    (x_train, y_train, x_val, y_val, x_test, y_test), names = _arrays()
    as_ds = functools.partial(tensor_dataset, x_dtype=torch.float32, y_dtype=torch.float32)
    return Experiment(
        name="diabetes",
        task="regression",
        train=as_ds(x_train, y_train),
        val=as_ds(x_val, y_val),
        test=as_ds(x_test, y_test),
        model=model_family(),
        batch_size=32,
        epochs=50,
        seed=0,
        meta={
            "kind": "table",
            "description": "scikit-learn's diabetes progression: 442 patients, 10 standardized features.",
            "reference": {},
            "model_family": model_family,
            "batch_augment": batch_augment,
            "feature_names": names,
        },
    )
