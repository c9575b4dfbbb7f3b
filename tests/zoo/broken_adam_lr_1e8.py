"""Adam at lr 1e-8: nothing moves in any reasonable time."""

from __future__ import annotations

import _zoo

EXPECT = {'fail': ['overfit-one-batch', 'loss-decreases']}


def experiment():
    return _zoo.experiment("adam-lr-1e-8", "classification", _zoo.wine(), lambda: _zoo.mlp(13, 3),
                           optimizer=_zoo.adam(1e-8))
