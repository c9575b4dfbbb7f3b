"""pytorch/examples mnist/main.py on digits, with the `log_softmax` removed from the model but `F.nll_loss`
kept (a refactor that moved the softmax "into the loss" only halfway).

nll_loss of raw scores is minus the target's score: unbounded below, it starts near 0 instead of ln(10) and
rewards inflating one logit rather than a right prediction. Expected: `init-loss` fails.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = {'fail': ['init-loss']}


def experiment() -> nr.Experiment:
    train, val = rc.digits_images()
    return nr.Experiment(
        name="mnist-cnn-no-log-softmax", task="classification", train=train, val=val,
        model=lambda: rc.MnistNet(log_softmax=False),
        loss=F.nll_loss,
        optimizer=lambda params: torch.optim.Adadelta(params, lr=1.0),
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7),
        batch_size=64, epochs=14,
    )
