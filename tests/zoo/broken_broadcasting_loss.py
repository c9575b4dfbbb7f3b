"""A (B, 1) output against (B,) targets: MSE broadcasts them into a (B, B) matrix."""

from __future__ import annotations

import warnings

import _zoo
import torch

EXPECT = {'fail': ['loss-pairing', 'output-shape']}



warnings.filterwarnings("ignore", message="Using a target size")


def experiment():
    train, val = _zoo.diabetes()
    flat = lambda ds: torch.utils.data.TensorDataset(ds.tensors[0], ds.tensors[1][:, 0])  # noqa: E731
    return _zoo.experiment("broadcasting-loss", "regression", (flat(train), flat(val)), lambda: _zoo.mlp(10, 1))
