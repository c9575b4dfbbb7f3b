"""Standardized digits, an MLP, Adam 3e-3."""

from __future__ import annotations

import _zoo

EXPECT = 'clean'


def experiment():
    return _zoo.experiment("digits-mlp", "classification", _zoo.digits(), lambda: _zoo.mlp(64, 10))
