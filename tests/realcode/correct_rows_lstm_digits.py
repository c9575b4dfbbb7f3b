"""The "LSTM on MNIST rows" tutorial (many public repos: `images.reshape(-1, sequence_length, input_size)`),
on sklearn's digits.

A batch-first 2-layer LSTM reads the 8 rows of each digit as 8 time steps from zero initial states (h0, c0
built per batch), and a Linear layer classifies the last step's output; nn.CrossEntropyLoss and Adam.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn

import nnrecipe as nr

EXPECT = 'clean'


def experiment() -> nr.Experiment:
    train, val = rc.digits_images()
    return nr.Experiment(
        name="rows-lstm-digits", task="classification", train=train, val=val,
        model=rc.RowLSTM,
        loss=nn.CrossEntropyLoss(),
        optimizer=lambda params: torch.optim.Adam(params, lr=3e-3),
        batch_size=64, epochs=10,
    )
