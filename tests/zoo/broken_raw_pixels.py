"""Raw 0-255 pixel inputs, never normalized: huge activations, a loss at init far off."""

from __future__ import annotations

import _zoo

EXPECT = {'fail': ['init-loss']}


def experiment():
    return _zoo.experiment("raw-pixels", "classification", _zoo.digits(raw=True), _zoo.convnet)
