"""Augmentation noise drawn from a private, unseeded numpy generator."""

from __future__ import annotations

import _zoo
import numpy as np
import torch

EXPECT = {'fail': ['reproducible']}



RNG = np.random.default_rng()  # unseeded: ignores every seed


def jitter(x, y):
    return x + torch.as_tensor(RNG.normal(0, 0.1, size=tuple(x.shape)), dtype=x.dtype), y


def experiment():
    return _zoo.experiment("unseeded-augment", "classification", _zoo.wine(), lambda: _zoo.mlp(13, 3),
                           augment=jitter)
