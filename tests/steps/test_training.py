"""Which weights a training keeps: the best validation epoch at constant lr, the end of a one-cycle schedule."""

from __future__ import annotations

import torch

import toy
from nnrecipe.engine.loop import evaluate
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.training import train_config

CPU = torch.device("cpu")


def test_constant_lr_keeps_the_best_validation_epoch_and_one_cycle_keeps_its_last() -> None:
    exp = toy.classification(val=toy.blobs(64, seed=2))  # a small validation set: its score jumps around
    constant = train_config(exp, TrainingConfig(lr=3e-2, batch_size=32, epochs=8), device=CPU, seed=0)
    scores = [r["val_loss"] for r in constant.records]
    accuracies = [r["val_accuracy"] for r in constant.records]
    assert constant.best_epoch == accuracies.index(max(accuracies))
    assert constant.val["accuracy"] == max(accuracies)
    assert evaluate(constant.model, exp.val, exp, device=CPU)["loss"] == scores[constant.best_epoch]

    cycle = train_config(exp, TrainingConfig(lr=3e-2, batch_size=32, epochs=8, schedule="onecycle", patience=2),
                         device=CPU, seed=0)
    assert cycle.best_epoch == 7 and cycle.epochs_run == 8  # patience does not cut a schedule short
    assert cycle.val["loss"] == cycle.records[-1]["val_loss"]
    assert evaluate(cycle.model, exp.val, exp, device=CPU)["loss"] == cycle.records[-1]["val_loss"]
