"""The TCN character model with Chomp1d cutting the start of the sequence (`x[:, :, chomp:]`) instead of the
end (`x[:, :, :-chomp]`): the shapes still match, but each output now sees (k-1)*dilation inputs ahead of it.

Expected: `causal` fails.
"""

from __future__ import annotations

import _realcode as rc
import correct_tcn_chars as base
import torch

import nnrecipe as nr

EXPECT = {'fail': ['causal']}


def experiment() -> nr.Experiment:
    train, val, vocab_size = rc.char_stream(48)
    return nr.Experiment(
        name="tcn-chomp-wrong-side", task="sequence", train=train, val=val,
        model=lambda: rc.TCNLanguageModel(vocab_size, chomp_left=True),
        optimizer=lambda params: torch.optim.Adam(params, lr=4e-3),
        train_step=base.train_step,
        batch_size=16, epochs=20,
    )
