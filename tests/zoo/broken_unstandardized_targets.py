"""Regression targets in raw units (mean ~150) and a final bias at 0."""

from __future__ import annotations

import _zoo

EXPECT = {'fail': ['dumb-baselines'], 'warn': ['init-bias']}  # a handful of raw targets can still be fit, slowly


def experiment():
    return _zoo.experiment("raw-targets", "regression", _zoo.diabetes(standardize_target=False),
                           lambda: _zoo.mlp(10, 1))
