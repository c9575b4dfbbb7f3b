"""loss-decreases: the training loss falls over the run, and does not climb back.

The loss at the start and at the end are the medians of a window of steps each, and the difference is
weighed against the batch-to-batch noise inside those windows (a robust estimate: the median absolute
deviation of the step-to-step changes). A loss is flat only when even the upper end of that uncertainty is a
negligible fall, so a short, noisy run that is still going down passes, while a loss that never moves (a
learning rate far too low, a detached or clamped loss, frozen parameters), ends up above where it started,
or gives back most of what it gained (a sustained rise: the optimization turned unstable) does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nnrecipe.catalog import WATCH_CHECK_TITLES
from nnrecipe.results import Status
from nnrecipe.watching.checks.base import Verdict, WatchCheck, noise, window_median
from nnrecipe.watching.record import WatchRecord

#: a median of k noisy values varies sqrt(pi / 2) times more than their mean
MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2)


@dataclass(frozen=True)
class LossDecreasesThresholds:
    #: fewer finite losses than this: too few to judge
    min_losses: int = 10
    #: the share of the losses in the start window and in the end window ...
    window: float = 0.2
    #: ... at least `min_window` and at most `max_window` of them
    min_window: int = 8
    max_window: int = 250
    #: a difference counts when it is this many standard errors of the window medians
    significant: float = 3.0
    #: flat: even this many standard errors above the measured fall, the loss falls by less than `flat_below`
    #: of its start (a noisy short run, whose fall cannot be told from its noise yet, is not called flat)
    flat_confidence: float = 2.0
    flat_below: float = 0.05
    #: warn when it falls significantly, but by less than this share of its start
    slow_below: float = 0.05
    #: warn / fail when the end gives back this share of the fall from the start to the best window
    give_back_warn: float = 0.3
    give_back_fail: float = 0.6


def _median_se(values: list[float]) -> float:
    return MEDIAN_EFFICIENCY * noise(values) / math.sqrt(max(len(values), 1))


def _best_window(values: list[float], k: int) -> tuple[float, list[float]]:
    """The lowest median over windows of k consecutive losses (taken at a stride, to stay cheap)."""
    stride = max(1, k // 2)
    best, best_window = math.inf, values[:k]
    for start in range(0, len(values) - k + 1, stride):
        window = values[start:start + k]
        median = window_median(window)
        if median < best:
            best, best_window = median, window
    return best, best_window


@dataclass(frozen=True)
class LossDecreasesEvidence:
    #: the finite losses judged (up to the first non-finite one), and the size of each window of them
    losses: int
    window: int
    first_step: int
    last_step: int
    #: the median loss over the first window, the last one, and the lowest median over any window
    start: float
    end: float
    best: float
    #: the standard errors of those three medians
    start_se: float
    end_se: float
    best_se: float


class LossDecreases(WatchCheck[LossDecreasesEvidence, LossDecreasesThresholds]):
    id = "loss-decreases"
    title = WATCH_CHECK_TITLES[id]
    Thresholds = LossDecreasesThresholds
    online_after = 30

    def applies(self, record: WatchRecord) -> str | None:
        finite = record.losses.finite_prefix()
        if len(finite) < self.thresholds.min_losses:
            bad = record.losses.first_non_finite()
            why = f" before the loss turned {bad[1]} at step {bad[0]} (see loss-finite)" if bad else ""
            return f"{len(finite)} finite losses were logged{why}; at least {self.thresholds.min_losses} are needed"
        return None

    def measure(self, record: WatchRecord) -> LossDecreasesEvidence:
        t = self.thresholds
        series = record.losses.finite_prefix()
        values = series.values
        k = min(t.max_window, max(t.min_window, round(t.window * len(values))), len(values) // 2)
        first, last = values[:k], values[-k:]
        best, best_window = _best_window(values, k)
        return LossDecreasesEvidence(
            losses=len(values), window=k, first_step=series.steps[0], last_step=series.steps[-1],
            start=window_median(first), end=window_median(last), best=best,
            start_se=_median_se(first), end_se=_median_se(last), best_se=_median_se(best_window))

    def judge(self, e: LossDecreasesEvidence, t: LossDecreasesThresholds) -> Verdict:
        drop = (e.start - e.end) / _scale(e)
        z_drop = _z(e.start - e.end, e.start_se, e.end_se)
        where = (f"{e.losses} losses to step {e.last_step}: median {e.start:.4g} over the first {e.window} -> "
                 f"{e.end:.4g} over the last {e.window} ({-drop:+.1%}, {z_drop:.3g} standard errors)")
        numbers: dict[str, Any] = {"relative_drop": drop, "z_drop": z_drop}
        if z_drop <= -t.significant and -drop > t.flat_below:
            return Verdict("fail", f"the loss ends above where it started ({where})",
                           "the optimization diverges: lower the learning rate (Adam at 3e-4 is a safe start), "
                           "add warm-up, or clip gradients", evidence=numbers)
        if z_drop < t.significant:
            return _within_noise(e, t, drop, where, numbers)
        return _significant_fall(e, t, drop, where, numbers)


def _scale(e: LossDecreasesEvidence) -> float:
    """What the fall is measured against: the start's size (1 for a loss that starts at exactly 0)."""
    return abs(e.start) or 1.0


def _within_noise(e: LossDecreasesEvidence, t: LossDecreasesThresholds, drop: float, where: str,
                  numbers: dict[str, Any]) -> Verdict:
    """A change that its noise cannot tell from none: a rise to look at, a flat loss, or too noisy to say."""
    if -drop > t.flat_below:
        return Verdict("warn", f"the loss is above where it started, though within its noise ({where})",
                       "the optimization may be diverging: look at the loss curve; lower the learning rate "
                       "or clip gradients", evidence=numbers)
    upper = (e.start - e.end + t.flat_confidence * math.hypot(e.start_se, e.end_se)) / _scale(e)
    numbers["drop_upper_bound"] = upper
    if upper < t.flat_below:
        return Verdict("fail", f"the loss stays flat ({where})",
                       "nothing is being learned: the learning rate may be far too low (or far too high), "
                       "the loss clamped or detached from the graph, or the parameters frozen or missing "
                       "from the optimizer", evidence=numbers)
    return Verdict("pass", f"the loss moves less than its noise so far: too noisy to call it flat ({where})",
                   evidence=numbers)


def _significant_fall(e: LossDecreasesEvidence, t: LossDecreasesThresholds, drop: float, where: str,
                      numbers: dict[str, Any]) -> Verdict:
    """A fall past its noise: given back since its best window, only slow, or a plain pass."""
    gained = e.start - e.best
    give_back = (e.end - e.best) / gained if gained > 0 else 0.0
    z_back = _z(e.end - e.best, e.end_se, e.best_se)
    numbers.update(give_back=give_back, z_give_back=z_back)
    if give_back > t.give_back_warn and z_back > t.significant:
        status: Status = "fail" if give_back > t.give_back_fail else "warn"
        return Verdict(status, f"the loss fell to {e.best:.4g}, then rose again and gave back {give_back:.0%} of "
                       f"its fall ({where})",
                       "the optimization turned unstable: lower the learning rate or decay it, add warm-up or "
                       "gradient clipping; look at the loss curve for the step where it turned", evidence=numbers)
    if drop < t.slow_below:
        return Verdict("warn", f"the loss falls only slowly ({where})",
                       "training is slow: try a larger learning rate, check the initialization and the input "
                       "scale", evidence=numbers)
    return Verdict("pass", f"the loss falls ({where})", evidence=numbers)


def _z(difference: float, se_a: float, se_b: float) -> float:
    """A difference in standard errors; an exactly repeated loss (no noise at all) is infinitely sure."""
    se = math.hypot(se_a, se_b)
    if se > 0:
        return difference / se
    return 0.0 if difference == 0 else math.copysign(math.inf, difference)
