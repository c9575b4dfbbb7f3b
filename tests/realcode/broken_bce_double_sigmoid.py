"""The breast-cancer one-logit classifier with `torch.sigmoid` at the end of the model and
`binary_cross_entropy_with_logits` still in the loss: the sigmoid is applied twice.

The loss sees probabilities in (0.5, 0.73) whatever the model does, so it cannot go below ~0.31 on positives
or ~0.69 on negatives, and its gradient is squashed. Expected: `overfit-one-batch` fails.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = {'fail': ['overfit-one-batch']}


def experiment() -> nr.Experiment:
    train, val = rc.breast_cancer()
    x_train = train.tensors[0]
    mean, std = x_train.mean(0), x_train.std(0)
    return nr.Experiment(
        name="bce-double-sigmoid", task="classification", train=train, val=val,
        model=lambda: rc.NormalizedClassifier(mean, std, final_sigmoid=True),
        loss=lambda out, y: F.binary_cross_entropy_with_logits(out.reshape(-1), y.float()),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        batch_size=32, epochs=30,
    )
