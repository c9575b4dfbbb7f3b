"""A batch-first LSTM over characters, next-token targets."""

from __future__ import annotations

import _zoo

EXPECT = 'clean'


def experiment():
    return _zoo.experiment("char-lstm", "sequence", _zoo.chars(), _zoo.CharLSTM)
