"""The pre-LN residual MLP on wine with its hand-written LayerNorm reducing over `dim=0`: each feature is
normalized with the statistics of the batch instead of each sample over its own features (a BatchNorm
without running statistics, in eval too). A sample's prediction depends on which samples share its batch.

Expected: `batch-independence` fails.
"""

from __future__ import annotations

import correct_layernorm_mlp_wine as base
import torch

import nnrecipe as nr

EXPECT = {'fail': ['batch-independence']}


def experiment() -> nr.Experiment:
    train, val = base.wine_standardized()
    return nr.Experiment(
        name="layernorm-batch-axis", task="classification", train=train, val=val,
        model=lambda: base.ResMLP(norm_dim=0),
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05),
        scheduler=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40),
        batch_size=16, epochs=40,
    )
