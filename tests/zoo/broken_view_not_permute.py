"""A time-major LSTM whose output is reshaped with view/reshape instead of permute: samples mix."""

from __future__ import annotations

import _zoo

EXPECT = {'fail': ['batch-independence']}


def experiment():
    return _zoo.experiment("view-not-permute", "sequence", _zoo.chars(), lambda: _zoo.CharLSTM(wrong_view=True))
