"""loss-decreases: a short real training run on the training set must lower the loss.

Compares the mean loss over the first and the last windows of the run (windows average out batch noise).
Flat means nothing learns (learning rate far too low, a clamped loss, frozen parameters); rising or NaN
means the optimization diverges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.skeleton.short_run import shared_short_run


@dataclass(frozen=True)
class Thresholds:
    #: the share of the run's steps averaged at its start and at its end
    window: float = 0.15
    #: fail when the loss falls by less than this fraction of its start
    fail_below: float = 0.03
    #: warn when it falls by less than this fraction
    warn_below: float = 0.10
    #: the run diverges when the last window's loss exceeds the first by this factor
    diverge_factor: float = 1.5


class LossDecreases(Check):
    id = "loss-decreases"
    stage = "skeleton"
    title = "Loss decreases in a short run"
    Thresholds = Thresholds

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        run = shared_short_run(ctx)
        losses = run.history.step_losses
        return {
            "steps": len(losses),
            "batch_size": ctx.experiment.batch_size,
            "seconds": run.history.seconds,
            "_artifacts": {"step_losses": losses, "step_lrs": run.history.step_lrs},
            "_losses": losses,
        }

    def judge(self, m: Mapping[str, Any], t: Thresholds) -> Verdict:
        losses: list[float] = m["_losses"]
        if not losses:
            return Verdict("fail", "the short run made no training step", "the training set yields no batch")
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        if bad is not None:
            return Verdict("fail", f"the loss turned {losses[bad]} at step {bad} of a short run",
                           "the optimization diverges: lower the learning rate, clip gradients, and look for NaN/Inf "
                           "inputs or a log of zero", evidence={"nan_at_step": bad})
        k = max(1, round(t.window * len(losses)))
        first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
        drop = (first - last) / abs(first) if first else 0.0
        numbers = {"first": first, "last": last, "relative_drop": drop}
        where = f"{len(losses)} steps: loss {first:.3g} -> {last:.3g} ({-drop:+.1%})"
        if last > t.diverge_factor * first:
            return Verdict("fail", f"the loss rises during a short run ({where})",
                           "the optimization diverges: lower the learning rate (Adam at 3e-4 is a safe start)", evidence=numbers)
        if drop < t.fail_below:
            return Verdict("fail", f"the loss stays flat during a short run ({where})",
                           "nothing is being learned: the learning rate may be far too low or far too high, the loss "
                           "clamped or detached, or the parameters frozen or missing from the optimizer", evidence=numbers)
        if drop < t.warn_below:
            return Verdict("warn", f"the loss falls only slowly during a short run ({where})",
                           "training is slow to start: try a larger learning rate or check the initialization", evidence=numbers)
        return Verdict("pass", f"the loss falls during a short run ({where})", evidence=numbers)
