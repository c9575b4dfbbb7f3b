"""makemore-style name model with makemore's hand-written GRU cell (`--type gru`), padded targets at -1.

The RNN unrolls its GRUCell over the positions from a learned start state and returns `(logits, loss)`. The
loss is a lambda with `ignore_index=-1` written inside it; the Experiment does not declare an ignore index,
so nnrecipe has to find it from the -1 values in the targets.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = 'clean'


def experiment() -> nr.Experiment:
    train, val = rc.names_splits()
    vocab_size = train.get_vocab_size()
    return nr.Experiment(
        name="makemore-gru", task="sequence", train=train, val=val,
        model=lambda: rc.RNN(vocab_size, n_embd=32, n_embd2=64),
        loss=lambda logits, y: F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1),
        optimizer=lambda params: torch.optim.AdamW(params, lr=5e-3, weight_decay=0.01, betas=(0.9, 0.99),
                                                   eps=1e-8),
        batch_size=32, epochs=30,
    )
