"""lr-schedule: the learning rate over the whole planned budget, simulated without training.

The optimizer and scheduler are built as the experiment builds them and stepped for epochs x steps per
epoch, at `scheduler_interval`. An epoch schedule stepped every batch (StepLR(step_size=30) decaying 30x
faster than meant), a decay that reaches zero early, a negative or NaN rate: each is plain to see here.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from nnrecipe.checks.base import ModelCheck, Verdict, internal, picture
from nnrecipe.checks.context import ModelContext

MAX_SIMULATED = 200_000  # steps; longer budgets are simulated up to here


@dataclass(frozen=True)
class LrScheduleThresholds:
    #: fail when the lr falls below this fraction of its peak ...
    collapse: float = 1e-3
    #: ... before this fraction of the budget
    before: float = 0.5
    #: fail when the lr never rises above this fraction of the lr the schedule is built around (a warm-up that
    #: never ends within the budget)
    never_reached: float = 0.1


def simulate(ctx: ModelContext) -> tuple[list[float], float]:
    """The lr at every training step of the planned budget (read before each step, as `fit` records it), and
    the lr the schedule is built around (its `max_lr`, else the optimizer's own lr)."""
    exp = ctx.experiment
    steps_per_epoch = math.ceil(len(exp.train) / exp.batch_size)
    total = min(exp.epochs * steps_per_epoch, MAX_SIMULATED)
    optimizer = ctx.optimizer(ctx.fresh_model("lr-schedule"))
    assert exp.scheduler is not None
    configured = float(optimizer.param_groups[0]["lr"])
    scheduler = exp.scheduler(optimizer)
    group = optimizer.param_groups[0]
    base = float(group.get("max_lr", group.get("initial_lr", configured)))
    lrs: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": no training here
        for step in range(total):
            lrs.append(float(optimizer.param_groups[0]["lr"]))
            if exp.scheduler_interval == "step":
                scheduler.step()
            elif (step + 1) % steps_per_epoch == 0:
                scheduler.step()
    return lrs, base


@dataclass(frozen=True)
class LrScheduleEvidence:
    #: the simulated training steps, and when the scheduler steps ("step" or "epoch")
    steps: int
    interval: str
    #: the lr the schedule is built around (its max_lr, else the optimizer's own lr)
    base_lr: float
    #: the lr at the first and the last step; None (shown as null) when the budget has no step
    start: float | None
    end: float | None
    #: the lr at every simulated step, which the judge reads
    lrs: list[float] = internal()
    #: for the report: the lr at (at most about 200) evenly spaced steps
    step_lrs: list[float] = picture()


class LrSchedule(ModelCheck[LrScheduleEvidence, LrScheduleThresholds]):
    id = "lr-schedule"
    stage = "skeleton"
    title = "Learning-rate schedule over the planned budget"
    needs_loss = False
    Thresholds = LrScheduleThresholds

    def applies(self, ctx: ModelContext) -> str | None:
        sched = ctx.experiment.scheduler
        if sched is None:
            return "no scheduler: the learning rate is constant"
        if "Plateau" in getattr(sched, "__name__", "") or "Plateau" in type(sched).__name__:
            return "ReduceLROnPlateau follows the validation loss and cannot be simulated"
        return None

    def measure(self, ctx: ModelContext) -> LrScheduleEvidence:
        lrs, base = simulate(ctx)
        stride = max(1, len(lrs) // 200)
        return LrScheduleEvidence(steps=len(lrs), interval=ctx.experiment.scheduler_interval, base_lr=base,
                                  start=lrs[0] if lrs else None, end=lrs[-1] if lrs else None, lrs=lrs,
                                  step_lrs=lrs[::stride])

    def judge(self, e: LrScheduleEvidence, t: LrScheduleThresholds) -> Verdict:
        lrs = e.lrs
        if not lrs:
            return Verdict("pass", "the planned budget has no training step")
        bad = next((i for i, v in enumerate(lrs) if not math.isfinite(v) or v < 0), None)
        if bad is not None:
            return Verdict("fail", f"the lr is {lrs[bad]} at step {bad} of {len(lrs)}",
                           "the schedule produces an invalid learning rate: check its formula")
        peak = max(lrs[: max(1, len(lrs) // 10)] + [lrs[0]])
        where = f"{len(lrs)} steps stepped per {e.interval}: lr {lrs[0]:.3g} -> {min(lrs):.3g} (min) -> {lrs[-1]:.3g}"
        verdict = _collapse(lrs, peak, where, t) or _never_reached(lrs, e.base_lr, where, t)
        if verdict is not None:
            return verdict
        zero = next((i for i, v in enumerate(lrs[1:-1], start=1) if v == 0.0), None)
        if zero is not None:
            return Verdict("fail", f"the lr reaches zero at step {zero} of {len(lrs)} ({where})",
                           "the schedule ends before the budget does: size it to epochs x steps per epoch")
        return Verdict("pass", where, evidence={"peak": peak})


def _collapse(lrs: list[float], peak: float, where: str, t: LrScheduleThresholds) -> Verdict | None:
    """A fail when the lr falls to a negligible share of its early peak before `t.before` of the budget."""
    half = int(t.before * len(lrs))
    low = next((i for i, v in enumerate(lrs[1:half], start=1) if v <= t.collapse * peak), None)
    if low is None:
        return None
    return Verdict("fail", f"the lr collapses to {lrs[low]:.3g} by step {low} of {len(lrs)} ({where})",
                   "most of the budget trains at a negligible lr: an epoch schedule stepped every batch? "
                   "set scheduler_interval='epoch' or size the schedule to epochs x steps per epoch",
                   evidence={"collapsed_at": low, "peak": peak})


def _never_reached(lrs: list[float], base: float, where: str, t: LrScheduleThresholds) -> Verdict | None:
    """A fail when the lr never comes near the lr the schedule is built around."""
    if not (base and max(lrs) < t.never_reached * base):
        return None
    return Verdict("fail", f"the lr never comes near the {base:.3g} the schedule is built around: at most "
                   f"{max(lrs):.3g} ({max(lrs) / base:.1%}) over the budget ({where})",
                   "the whole budget trains at a fraction of the intended lr: a warm-up or schedule sized in "
                   "steps but stepped once per epoch? set scheduler_interval='step', or size it in epochs",
                   evidence={"peak": max(lrs), "base_lr": base})
