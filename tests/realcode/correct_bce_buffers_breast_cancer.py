"""Binary classification with one logit on load_breast_cancer, the raw features standardized inside the model.

The model registers the training rows' mean and std as buffers and standardizes in forward (the
Keras-Normalization-layer style); it outputs (B, 1) logits, the targets are integer 0/1, and the loss is
`F.binary_cross_entropy_with_logits(out.reshape(-1), y.float())`. Adam.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = 'clean'


def experiment() -> nr.Experiment:
    train, val = rc.breast_cancer()
    x_train = train.tensors[0]
    mean, std = x_train.mean(0), x_train.std(0)
    return nr.Experiment(
        name="bce-buffers-breast-cancer", task="classification", train=train, val=val,
        model=lambda: rc.NormalizedClassifier(mean, std),
        loss=lambda out, y: F.binary_cross_entropy_with_logits(out.reshape(-1), y.float()),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        batch_size=32, epochs=30,
    )
