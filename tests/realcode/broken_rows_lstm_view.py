"""The LSTM-over-rows digits classifier with a time-major LSTM fed `x.view(seq_len, -1, input_size)`.

The intent was (B, T, C) -> (T, B, C), which is `x.permute(1, 0, 2)`; `view` keeps the memory order, so each
"time step" holds rows of several different images and each sample's prediction depends on its batch
neighbours. Expected: `batch-independence` fails.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn

import nnrecipe as nr

EXPECT = {'fail': ['batch-independence']}


def experiment() -> nr.Experiment:
    train, val = rc.digits_images()
    return nr.Experiment(
        name="rows-lstm-view", task="classification", train=train, val=val,
        model=lambda: rc.RowLSTM(time_major=True),
        loss=nn.CrossEntropyLoss(),
        optimizer=lambda params: torch.optim.Adam(params, lr=3e-3),
        batch_size=64, epochs=10,
    )
