"""90/10 imbalanced classes with the final bias set to the log prior."""

from __future__ import annotations

import _zoo
import torch

import nnrecipe as nr

EXPECT = 'clean'




def imbalanced(ds):
    x, y = ds.tensors
    return torch.utils.data.TensorDataset(x, (y == 0).long())  # class 1 (10%): the digit 0


def experiment():
    train, val = _zoo.digits()
    train, val = imbalanced(train), imbalanced(val)
    return _zoo.experiment("imbalanced-fixed-init", "classification", (train, val),
                           lambda: nr.init_final_bias(_zoo.mlp(64, 2), train))
