"""Prediction dynamics: the model's predictions on one fixed validation batch, before training and after
every epoch ("visualize model predictions on a fixed test batch during the course of training")."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from nnrecipe.engine.data import take
from nnrecipe.engine.loop import EpochRecord, mode
from nnrecipe.engine.observe import Recorder
from nnrecipe.engine.outputs import forward
from nnrecipe.experiment import Experiment
from nnrecipe.seeding import preserved_random_state

#: the fixed batch: this many validation samples, evenly spaced over the split (no random draw)
SAMPLES = 16


def fixed_indices(n: int, k: int = SAMPLES) -> torch.Tensor:
    """Evenly spaced indices: a split stored sorted by class still gives samples of many classes."""
    return torch.linspace(0, n - 1, min(k, n)).round().long().unique()


def summarize_outputs(out: torch.Tensor, y: torch.Tensor, task: str) -> np.ndarray:
    """What is drawn per epoch: class probabilities (N, C); regression values (N,); for sequences the
    probability of the true token averaged over positions (N,)."""
    out = out.detach().float().cpu()
    if task == "regression":
        return out.reshape(len(out), -1)[:, 0].numpy()
    probs = out.softmax(-1)
    if task == "sequence":  # (N, T, V) -> p(true token), averaged over T
        return probs.gather(-1, y.cpu().long().unsqueeze(-1)).squeeze(-1).mean(-1).numpy()
    return probs.numpy()


class PredictionDynamics(Recorder):
    key = "prediction_dynamics"

    def __init__(self, exp: Experiment) -> None:
        self.task = exp.task
        self.class_names = list(exp.class_names) if exp.class_names is not None else None
        self.x, self.y = take(exp.val, fixed_indices(len(exp.val)))
        self.epochs: list[int] = []
        self.outputs: list[np.ndarray] = []

    def on_train_start(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self._observe(model, -1)  # -1: at initialization

    def on_epoch_end(self, record: EpochRecord, model: nn.Module) -> bool:
        self._observe(model, record.epoch)
        return False

    @torch.no_grad()
    def _observe(self, model: nn.Module, epoch: int) -> None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        with preserved_random_state(), mode(model, False):  # a stochastic eval must not shift training's RNG
            out = forward(model, self.x.to(device))
        self.epochs.append(epoch)
        self.outputs.append(summarize_outputs(out, self.y, self.task))

    def record(self) -> dict[str, Any] | None:
        if not self.outputs:
            return None
        return {"task": self.task, "epochs": self.epochs, "outputs": np.stack(self.outputs),
                "targets": self.y.cpu().numpy(), "class_names": self.class_names}
