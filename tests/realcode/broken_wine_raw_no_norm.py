"""load_wine's raw features fed straight into an MLP (no scaler, no normalization layer): proline's values in
the hundreds to ~1700 dominate the first layer, the logits at init are in the hundreds, and the loss starts
far above ln(3). Expected: `init-loss` fails.
"""

from __future__ import annotations

import _realcode as rc
import correct_wine_raw_batchnorm_input as base
import torch

import nnrecipe as nr

EXPECT = {'fail': ['init-loss']}


def experiment() -> nr.Experiment:
    train, val = rc.shuffled_split(*rc.table("wine"), 130, seed=1)
    return nr.Experiment(
        name="wine-raw-no-norm", task="classification", train=train, val=val,
        model=lambda: base.model(input_norm=False),
        optimizer=lambda params: torch.optim.Adam(params, lr=3e-3),
        batch_size=16, epochs=30,
    )
