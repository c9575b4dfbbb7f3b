"""The digits ResNet whose optimizer is built from the decaying weights only.

Meaning to exempt BatchNorm and biases from weight decay, the code keeps `[p for p in params if p.ndim > 1]`
and never adds the second, no-decay group: every BatchNorm weight and bias (and the classifier's bias) gets
gradients but is never updated. Expected: `params-update` fails.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn

import nnrecipe as nr

EXPECT = {'fail': ['params-update']}


def decayed_weights(params: object) -> list[nn.Parameter]:
    return [p for p in params if p.requires_grad and p.ndim > 1]  # type: ignore[attr-defined]


def experiment() -> nr.Experiment:
    train, val = rc.digits_images()
    return nr.Experiment(
        name="resnet-batchnorm-missing-params", task="classification", train=train, val=val,
        model=rc.ResNet,
        loss=nn.CrossEntropyLoss(),
        optimizer=lambda params: torch.optim.SGD(decayed_weights(params), lr=0.1, momentum=0.9, nesterov=True,
                                                 weight_decay=5e-4),
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1),
        batch_size=64, epochs=9,
    )
