"""The first layer frozen by mistake (requires_grad=False)."""

from __future__ import annotations

import _zoo

EXPECT = {'warn': ['params-update']}


def model():
    net = _zoo.mlp(13, 3)
    net[1].requires_grad_(False)
    return net


def experiment():
    return _zoo.experiment("frozen-layers", "classification", _zoo.wine(), model)
