"""lr-schedule: the learning rate the optimizer actually used does not collapse long before the run is over.

The lr of the first parameter group is read before every optimizer step. It has collapsed at the first step
from which it stays at or below `collapse` times its peak so far; that is a failure when it happens before
`before` of the planned steps (`planned_steps`, else the steps watched): most of the budget then trains at a
negligible lr (an epoch schedule stepped every batch, a decay sized to the wrong number of steps). A schedule
that dips and restarts (warm restarts) never stays collapsed and passes; so does a decay to zero that ends
with the run.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from nnrecipe.catalog import WATCH_CHECK_TITLES
from nnrecipe.watching.checks.base import Verdict, WatchCheck
from nnrecipe.watching.record import WatchRecord


@dataclass(frozen=True)
class LrScheduleThresholds:
    #: collapsed: at or below this share of the peak lr ...
    collapse: float = 1e-3
    #: ... from a step before this share of the planned steps, to the end
    before: float = 0.5


def collapse_step(lrs: list[float], share: float) -> int | None:
    """The index from which every lr stays at or below `share` times the peak before it, or None."""
    peaks = list(itertools.accumulate(lrs, max))
    found = None
    for i in range(len(lrs) - 1, -1, -1):  # walk back from the end while the lr stays collapsed
        if peaks[i] > 0 and lrs[i] <= share * peaks[i]:
            found = i
        else:
            break
    return found


@dataclass(frozen=True)
class LrScheduleEvidence:
    #: optimizer steps whose lr was read; the steps planned (None: not given) and watched
    steps: int
    planned_steps: int | None
    watched_steps: int
    #: the lr at the first step, its peak, at the last step, and its lowest
    start: float
    peak: float
    end: float
    min: float
    #: the step and value of the first negative or non-finite lr (None: every lr is valid)
    invalid_step: int | None
    invalid: float | None
    #: the step from which the lr stays collapsed, and its value there (None: no collapse)
    collapsed_at: int | None
    collapsed_to: float | None


class LrSchedule(WatchCheck[LrScheduleEvidence, LrScheduleThresholds]):
    id = "lr-schedule"
    title = WATCH_CHECK_TITLES[id]
    Thresholds = LrScheduleThresholds

    def applies(self, record: WatchRecord) -> str | None:
        if not record.lrs:
            return ("no optimizer step was seen: the lr is read from the optimizer" if record.has_optimizer else
                    "no optimizer was given to watch: the lr is read from it")
        return None

    def measure(self, record: WatchRecord) -> LrScheduleEvidence:
        lrs, steps = record.lrs.values, record.lrs.steps
        valid = math.isfinite(sum(lrs)) and min(lrs) >= 0  # the index is looked for only when something is wrong
        bad = None if valid else next(i for i, v in enumerate(lrs) if not math.isfinite(v) or v < 0)
        at = collapse_step(lrs, self.thresholds.collapse) if bad is None else None
        return LrScheduleEvidence(
            steps=len(lrs), planned_steps=record.planned_steps, watched_steps=record.steps,
            start=lrs[0], peak=max(lrs), end=lrs[-1], min=min(lrs),
            invalid_step=steps[bad] if bad is not None else None, invalid=lrs[bad] if bad is not None else None,
            collapsed_at=steps[at] if at is not None else None, collapsed_to=lrs[at] if at is not None else None)

    def judge(self, e: LrScheduleEvidence, t: LrScheduleThresholds) -> Verdict:
        if e.invalid_step is not None:
            return Verdict("fail", f"the lr is {e.invalid} at step {e.invalid_step}",
                           "the schedule produces an invalid learning rate: check its formula")
        planned = e.planned_steps
        horizon = planned or e.watched_steps
        of = f"{planned} planned steps" if planned else f"{e.watched_steps} steps watched"
        where = f"lr {e.start:.3g} -> {e.end:.3g} (peak {e.peak:.3g}) over {e.steps} optimizer steps"
        at = e.collapsed_at
        if at is not None and e.collapsed_to is not None and at < t.before * horizon:
            return Verdict("fail", f"the lr collapsed to {e.collapsed_to:.3g} ({e.collapsed_to / e.peak:.1g} "
                           f"of its peak) by step {at}, {at / horizon:.0%} of the {of}, and stayed there ({where})",
                           "most of the run trains at a negligible lr: an epoch schedule stepped every batch? size "
                           "the schedule to the steps you plan (epochs x batches per epoch) and step it at the "
                           "interval it was written for", evidence={"collapsed_share": at / horizon})
        if e.peak == e.min:
            return Verdict("pass", f"constant lr {e.peak:.3g} over {e.steps} optimizer steps")
        return Verdict("pass", f"{where}; no collapse before {t.before:.0%} of the {of}")
