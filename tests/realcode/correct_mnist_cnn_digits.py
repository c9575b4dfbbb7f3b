"""pytorch/examples mnist/main.py on sklearn's 8x8 digits.

ToTensor then Normalize((mean,), (std,)) with the dataset's constants written down; the example's Net (two
convs, max-pool, dropout 0.25/0.5, `log_softmax` out) trained with `F.nll_loss`; Adadelta(lr=1.0) and
StepLR(step_size=1, gamma=0.7) stepped once per epoch, for the example's 14 epochs.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = 'clean'


def experiment() -> nr.Experiment:
    train, val = rc.digits_images()
    return nr.Experiment(
        name="mnist-cnn-digits", task="classification", train=train, val=val,
        model=rc.MnistNet,
        loss=F.nll_loss,
        optimizer=lambda params: torch.optim.Adadelta(params, lr=1.0),
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7),
        batch_size=64, epochs=14,
    )
