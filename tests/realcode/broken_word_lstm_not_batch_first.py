"""The word_language_model port fed batch-first (B, T) windows while its LSTM keeps the example's time-major
default (`batch_first=False`): the LSTM recurs across the batch (sample i sees samples 0..i-1) instead of
along the words. Expected: `batch-independence` fails.
"""

from __future__ import annotations

import _realcode as rc
import correct_word_lstm_lm as base

import nnrecipe as nr

EXPECT = {'fail': ['batch-independence']}


def experiment() -> nr.Experiment:
    train, val, ntokens = rc.word_corpus(bptt=20)
    return nr.Experiment(
        name="word-lstm-not-batch-first", task="sequence", train=train, val=val,
        model=lambda: rc.RNNModel("LSTM", ntokens, 64, 64, 2, dropout=0.2, tie_weights=True, batch_first=False),
        loss=base.criterion,
        train_step=base.train_step,
        batch_size=20, epochs=6,
    )
