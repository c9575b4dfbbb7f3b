"""Standardized digits and a small convnet (the twin of raw pixels)."""

from __future__ import annotations

import _zoo

EXPECT = 'clean'


def experiment():
    return _zoo.experiment("digits-convnet", "classification", _zoo.digits(), _zoo.convnet)
