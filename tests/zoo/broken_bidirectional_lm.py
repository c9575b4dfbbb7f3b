"""A bidirectional LSTM predicting the next token: it sees the future."""

from __future__ import annotations

import _zoo

EXPECT = {'fail': ['causal']}


def experiment():
    return _zoo.experiment("bidirectional-lm", "sequence", _zoo.chars(), lambda: _zoo.CharLSTM(bidirectional=True))
