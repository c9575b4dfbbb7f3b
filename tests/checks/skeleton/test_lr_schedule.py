"""lr-schedule: simulated over the planned budget; a collapse before half of it is a fail."""

from __future__ import annotations

import torch

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.lr_schedule import LrSchedule, LrScheduleThresholds


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["lr-schedule"], device="cpu").check("lr-schedule").status


def step_lr(opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.StepLR:
    return torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)


def test_epoch_schedule_per_epoch_passes_and_per_step_fails() -> None:
    assert status(toy.classification()) == "skip"
    assert status(toy.classification(scheduler=step_lr, epochs=3)) == "pass"
    assert status(toy.classification(scheduler=step_lr, scheduler_interval="step", epochs=3)) == "fail"


def test_judge_without_torch() -> None:
    judge, t = LrSchedule().judge, LrScheduleThresholds()
    m = {"interval": "step"}
    assert judge({**m, "_lrs": [1.0] * 50 + [0.1] * 50}, t).status == "pass"
    assert judge({**m, "_lrs": [1.0] * 10 + [1e-5] * 90}, t).status == "fail"
    assert judge({**m, "_lrs": [1.0, float("nan")]}, t).status == "fail"
    assert judge({**m, "_lrs": [0.0] + [1.0] * 99}, t).status == "pass"  # warm-up from zero is fine
