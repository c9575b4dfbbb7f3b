"""loss-decreases: a short real training run on the training set must lower the loss.

Compares the first step's loss with the mean over the run's last window (the window averages out batch noise).
Flat means nothing learns (learning rate far too low, a clamped loss, frozen parameters); rising or NaN
means the optimization diverges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nnrecipe.checks.base import ModelCheck, Verdict, internal, picture
from nnrecipe.checks.context import ModelContext
from nnrecipe.checks.skeleton.short_run import end_of_run, shared_short_run


@dataclass(frozen=True)
class LossDecreasesThresholds:
    #: the share of the run's last steps averaged for its end
    window: float = 0.15
    #: fail when the loss falls by less than this fraction of its start
    fail_below: float = 0.03
    #: warn when it falls by less than this fraction
    warn_below: float = 0.10
    #: warn when the loss peaks above this multiple of its start on the way (unstable optimization)
    spike_factor: float = 3.0


@dataclass(frozen=True)
class LossDecreasesEvidence:
    #: the shared short run's training steps, its batch size and its seconds
    steps: int
    batch_size: int
    seconds: float
    #: the loss at every step, which the judge reads
    losses: list[float] = internal()
    #: for the report: the loss and lr at every step, and the short run's first batch ("what goes into the net":
    #: `check` has no other training)
    step_losses: list[float] = picture()
    step_lrs: list[float] = picture()
    input_batch: dict[str, Any] | None = picture()


class LossDecreases(ModelCheck[LossDecreasesEvidence, LossDecreasesThresholds]):
    id = "loss-decreases"
    stage = "skeleton"
    title = "Loss decreases in a short run"
    Thresholds = LossDecreasesThresholds

    def measure(self, ctx: ModelContext) -> LossDecreasesEvidence:
        run = shared_short_run(ctx)
        losses = run.history.step_losses
        return LossDecreasesEvidence(steps=len(losses), batch_size=ctx.experiment.batch_size,
                                     seconds=run.history.seconds, losses=losses, step_losses=losses,
                                     step_lrs=run.history.step_lrs, input_batch=run.input_batch)

    def judge(self, e: LossDecreasesEvidence, t: LossDecreasesThresholds) -> Verdict:
        losses = e.losses
        if not losses:
            return Verdict("fail", "the short run made no training step", "the training set yields no batch")
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        if bad is not None:
            return Verdict("fail", f"the loss turned {losses[bad]} at step {bad} of a short run",
                           "the optimization diverges: lower the learning rate, clip gradients, and look for NaN/Inf "
                           "inputs or a log of zero", evidence={"nan_at_step": bad})
        return _judge_finite(losses, t)


def _judge_finite(losses: list[float], t: LossDecreasesThresholds) -> Verdict:
    """The verdict on a run whose every loss is finite: how far it fell from its start, and how it got there."""
    # The start is the very first step's loss (the fresh model's): a learning rate far too high blows the
    # loss up within a few steps, and a window average there would already include the blow-up.
    start = losses[0]
    last, peak = end_of_run(losses, t.window), max(losses)
    drop = (start - last) / abs(start) if start else 0.0
    numbers = {"start": start, "last": last, "peak": peak, "relative_drop": drop}
    where = f"{len(losses)} steps: loss {start:.3g} -> {last:.3g} ({-drop:+.1%}), peak {peak:.3g}"
    if last > start:
        return Verdict("fail", f"the loss ends above where it started in a short run ({where})",
                       "the optimization diverges: lower the learning rate (Adam at 3e-4 is a safe start) or "
                       "clip gradients", evidence=numbers)
    if drop < t.fail_below:
        return Verdict("fail", f"the loss stays flat during a short run ({where})",
                       "nothing is being learned: the learning rate may be far too low or far too high, the loss "
                       "clamped or detached, or the parameters frozen or missing from the optimizer", evidence=numbers)
    if peak > t.spike_factor * start:
        return Verdict("warn", f"the loss spikes to {peak / start:.1f}x its start before falling ({where})",
                       "the optimization is unstable: try a smaller learning rate or warm-up", evidence=numbers)
    if drop < t.warn_below:
        return Verdict("warn", f"the loss falls only slowly during a short run ({where})",
                       "training is slow to start: try a larger learning rate or check the initialization",
                       evidence=numbers)
    return Verdict("pass", f"the loss falls during a short run ({where})", evidence=numbers)
