"""A softmax layer before cross-entropy (which expects logits): the loss cannot approach zero."""

from __future__ import annotations

import _zoo
from torch import nn

EXPECT = {'fail': ['overfit-one-batch']}


def experiment():
    return _zoo.experiment("softmax-before-ce", "classification", _zoo.digits(),
                           lambda: nn.Sequential(_zoo.mlp(64, 10), nn.Softmax(dim=-1)))
