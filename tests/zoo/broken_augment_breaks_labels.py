"""Left/right images flipped by the augmentation without flipping the label."""

from __future__ import annotations

import _zoo
import torch

EXPECT = {'fail': ['augment-consistency']}


def halves(n, seed):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.randn(n, 1, 8, 8, generator=gen) * 0.5
    x[y == 0, :, :, :4] += 1.0  # class 0: bright on the left
    x[y == 1, :, :, 4:] += 1.0  # class 1: bright on the right
    return torch.utils.data.TensorDataset(x, y)


def flip(x, y):
    return x.flip(-1), y  # the label should become 1 - y


def experiment():
    return _zoo.experiment("augment-breaks-labels", "classification", (halves(800, 1), halves(200, 2)),
                           lambda: _zoo.mlp(64, 2), augment=flip)
