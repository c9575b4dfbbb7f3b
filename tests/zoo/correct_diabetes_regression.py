"""Standardized diabetes regression, output and target both (B, 1)."""

from __future__ import annotations

import _zoo

EXPECT = 'clean'


def experiment():
    return _zoo.experiment("diabetes", "regression", _zoo.diabetes(), lambda: _zoo.mlp(10, 1))
