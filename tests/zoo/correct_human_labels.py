"""Wine with a second annotation of the first validation samples."""

from __future__ import annotations

import _zoo

EXPECT = 'clean'


def experiment():
    train, val = _zoo.wine()
    human = val.tensors[1][:40].clone()
    human[::10] = (human[::10] + 1) % 3  # humans disagree on one in ten
    return _zoo.experiment("wine-human", "classification", (train, val), lambda: _zoo.mlp(13, 3),
                           human_labels=human.tolist())
