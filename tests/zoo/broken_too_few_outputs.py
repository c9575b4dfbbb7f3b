"""A head with 8 outputs for the 10 digit classes."""

from __future__ import annotations

import _zoo

EXPECT = {'fail': ['output-shape']}


def experiment():
    return _zoo.experiment("too-few-outputs", "classification", _zoo.digits(), lambda: _zoo.mlp(64, 8),
                           num_classes=10)
