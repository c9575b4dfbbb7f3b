"""The final layer's bias set to 12 on one class: the loss at init is far above log(C)."""

from __future__ import annotations

import _zoo
import torch

EXPECT = {'fail': ['init-loss'], 'warn': ['init-bias']}


def model():
    net = _zoo.mlp(13, 3)
    with torch.no_grad():
        net[-1].bias[0] = 12.0
    return net


def experiment():
    return _zoo.experiment("final-bias-12", "classification", _zoo.wine(), model)
