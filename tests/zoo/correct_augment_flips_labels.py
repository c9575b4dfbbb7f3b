"""Left/right images flipped with their label flipped too (the twin)."""

from __future__ import annotations

import _zoo
import torch

EXPECT = 'clean'


def halves(n, seed):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.randn(n, 1, 8, 8, generator=gen) * 0.5
    x[y == 0, :, :, :4] += 1.0
    x[y == 1, :, :, 4:] += 1.0
    return torch.utils.data.TensorDataset(x, y)


def flip(x, y):
    if torch.rand(()) < 0.5:  # torch's global generator: seeded by nnrecipe
        return x.flip(-1), 1 - y
    return x, y


def experiment():
    return _zoo.experiment("augment-flips-labels", "classification", (halves(800, 1), halves(200, 2)),
                           lambda: _zoo.mlp(64, 2), augment=flip)
