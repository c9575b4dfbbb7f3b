"""lr-schedule: simulated over the planned budget; a collapse before half of it is a fail."""

from __future__ import annotations

import torch

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.lr_schedule import LrSchedule, LrScheduleEvidence, LrScheduleThresholds


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["lr-schedule"], device="cpu").check("lr-schedule").status


def step_lr(opt: torch.optim.Optimizer) -> torch.optim.lr_scheduler.StepLR:
    return torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)


def test_epoch_schedule_per_epoch_passes_and_per_step_fails() -> None:
    assert status(toy.classification()) == "skip"
    assert status(toy.classification(scheduler=step_lr, epochs=3)) == "pass"
    assert status(toy.classification(scheduler=step_lr, scheduler_interval="step", epochs=3)) == "fail"


def schedule(lrs: list[float], interval: str = "step", base_lr: float = 1.0) -> LrScheduleEvidence:
    return LrScheduleEvidence(steps=len(lrs), interval=interval, base_lr=base_lr, start=lrs[0] if lrs else None,
                              end=lrs[-1] if lrs else None, lrs=lrs, step_lrs=lrs)


def test_judge_without_torch() -> None:
    judge, t = LrSchedule().judge, LrScheduleThresholds()
    assert judge(schedule([1.0] * 50 + [0.1] * 50), t).status == "pass"
    assert judge(schedule([1.0] * 10 + [1e-5] * 90), t).status == "fail"
    assert judge(schedule([1.0, float("nan")]), t).status == "fail"
    assert judge(schedule([0.0] + [1.0] * 99), t).status == "pass"  # warm-up from zero is fine
    assert judge(schedule([1.0] * 60 + [0.0] * 40), t).status == "fail"  # the schedule ends before the budget
    assert judge(schedule([]), t).status == "pass"


def warmup_cosine(warmup: int, total: int) -> object:
    """nanoGPT's schedule as a LambdaLR: linear warm-up over `warmup` iterations, cosine to 10% at `total`."""
    import math

    def factor(it: int) -> float:
        if it < warmup:
            return (it + 1) / warmup
        progress = min(1.0, (it - warmup) / max(1, total - warmup))
        return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))

    return lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, factor)


def test_iteration_warmup_stepped_per_step_passes_and_per_epoch_fails() -> None:
    exp = toy.classification(epochs=10)
    total = 10 * -(-len(exp.train) // exp.batch_size)  # the planned iterations: 160
    per_step = exp.replace(scheduler=warmup_cosine(120, total), scheduler_interval="step")
    assert status(per_step) == "pass"
    # The same per-iteration schedule stepped once per epoch: the lr stays at warm-up values all run.
    assert status(per_step.replace(scheduler_interval="epoch")) == "fail"


def test_judge_never_reaching_the_base_lr() -> None:
    judge, t = LrSchedule().judge, LrScheduleThresholds()
    assert judge(schedule([0.005 * (i // 10 + 1) for i in range(100)], "epoch"), t).status == "fail"
    assert judge(schedule([min(1.0, i / 10) for i in range(100)], "epoch"), t).status == "pass"
