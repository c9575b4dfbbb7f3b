"""An LSTM fed (B, T, C) without batch_first=True: it runs along the batch."""

from __future__ import annotations

import _zoo

EXPECT = {'fail': ['batch-independence']}


def experiment():
    return _zoo.experiment("rnn-no-batch-first", "sequence", _zoo.chars(), lambda: _zoo.CharLSTM(batch_first=False))
