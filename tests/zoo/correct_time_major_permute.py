"""A time-major LSTM with its output permuted back (the twin of view-not-permute)."""

from __future__ import annotations

import _zoo

EXPECT = 'clean'


def experiment():
    return _zoo.experiment("time-major-permute", "sequence", _zoo.chars(), lambda: _zoo.CharLSTM(permute=True))
