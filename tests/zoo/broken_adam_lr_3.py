"""Adam at lr 3.0: the optimization blows up."""

from __future__ import annotations

import _zoo

EXPECT = {'fail': ['loss-decreases']}


def experiment():
    return _zoo.experiment("adam-lr-3", "classification", _zoo.digits(), lambda: _zoo.mlp(64, 10),
                           optimizer=_zoo.adam(3.0))
