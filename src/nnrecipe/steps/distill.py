"""Distillation (step 6): one model taught by an ensemble's soft predictions, and the teacher as data that can
travel to a worker process (its members' configurations, seeds and weights)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nnrecipe.engine.checkpoint import from_bytes, to_bytes
from nnrecipe.engine.data import Batch, loss_fn
from nnrecipe.engine.ensemble import Ensemble
from nnrecipe.engine.outputs import forward
from nnrecipe.experiment import Experiment
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.training import build_model


@dataclass(frozen=True, kw_only=True)
class DistillSettings:
    #: softens the ensemble's probabilities so the student also learns how classes resemble each other
    temperature: float = 4.0
    #: weight of the ensemble's soft targets; the true labels get 1 - soft_weight
    soft_weight: float = 0.7


DISTILL = DistillSettings()


@dataclass(frozen=True)
class Teacher:
    """What a distilled unit learns from: the ensemble's members (configuration, seed, weights packed with
    `pack_state`) and how it teaches. Weights travel with it, so a worker process needs nothing else."""

    members: tuple[tuple[TrainingConfig, int, bytes], ...]
    settings: DistillSettings


def pack_state(state: dict[str, Any]) -> bytes:
    """A member's weights, on the CPU, as one blob to send to another process."""
    return to_bytes({k: v.detach().cpu() for k, v in state.items()})


class DistillStep:
    """One optimization step of the student: the teacher's soft targets at a temperature, plus the true labels.

    The teacher sees the very batch the student sees (augmented or not) and stays in eval mode, untrained.
    """

    def __init__(self, teacher: nn.Module, exp: Experiment, settings: DistillSettings) -> None:
        self.teacher = teacher.eval()
        self.task = exp.task
        self.hard_loss = loss_fn(exp)
        self.settings = settings

    def soft_loss(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        if self.task == "regression":
            return F.mse_loss(student, teacher)
        t = self.settings.temperature
        s_log = F.log_softmax(student.reshape(-1, student.shape[-1]) / t, dim=-1)  # (N, C)
        t_log = F.log_softmax(teacher.reshape(-1, teacher.shape[-1]) / t, dim=-1)
        # t^2 keeps the soft term's gradients on the scale of the hard term's (Hinton et al. 2015)
        return F.kl_div(s_log, t_log, log_target=True, reduction="batchmean") * t * t

    def __call__(self, model: nn.Module, batch: Batch, optimizer: torch.optim.Optimizer) -> torch.Tensor:
        x, y = batch
        with torch.no_grad():
            target = forward(self.teacher, x)
        optimizer.zero_grad(set_to_none=True)
        out = forward(model, x)
        w = self.settings.soft_weight
        loss = w * self.soft_loss(out, target) + (1 - w) * self.hard_loss(out, y)
        loss.backward()
        optimizer.step()
        return loss


def taught(exp: Experiment, teacher: Teacher, device: torch.device) -> Experiment:
    """`exp` whose training step distills from the teacher's ensemble (a user's own `train_step` is replaced)."""
    models = []
    for cfg, seed, state in teacher.members:
        model = build_model(exp, cfg, device=device, seed=seed)
        model.load_state_dict(from_bytes(state))
        models.append(model)
    ensemble = Ensemble(models, task=exp.task).to(device)
    return exp.replace(train_step=DistillStep(ensemble, exp, teacher.settings))
