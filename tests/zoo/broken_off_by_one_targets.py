"""Targets not shifted: the target at t is the input at t, which the model sees."""

from __future__ import annotations

import _zoo

EXPECT = {'fail': ['target-alignment']}


def experiment():
    return _zoo.experiment("off-by-one", "sequence", _zoo.chars(shift=0), _zoo.CharLSTM)
