"""A CIFAR-style ResNet (kuangliu/pytorch-cifar, torchvision's BasicBlock: conv-BN-ReLU, bias-free convs,
kaiming init) on digits, with the ImageNet-example recipe: SGD(lr=0.1, momentum=0.9, nesterov=True),
weight decay 5e-4 on the weights only (timm's param_groups_weight_decay: no decay on BatchNorm and biases),
and StepLR(step_size=3, gamma=0.1) stepped per epoch over 9 epochs (the 30/60/90 schedule, scaled down).
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn

import nnrecipe as nr

EXPECT = 'clean'


def param_groups_weight_decay(params: object, weight_decay: float = 5e-4) -> list[dict]:
    params = [p for p in params if p.requires_grad]  # type: ignore[attr-defined]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]  # BatchNorm gains and shifts, biases
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def experiment() -> nr.Experiment:
    train, val = rc.digits_images()
    return nr.Experiment(
        name="resnet-batchnorm-sgd", task="classification", train=train, val=val,
        model=rc.ResNet,
        loss=nn.CrossEntropyLoss(),
        optimizer=lambda params: torch.optim.SGD(param_groups_weight_decay(params), lr=0.1, momentum=0.9,
                                                 nesterov=True),
        scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1),
        batch_size=64, epochs=9,
    )
