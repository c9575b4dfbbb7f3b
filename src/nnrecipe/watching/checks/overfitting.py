"""overfitting: the validation loss rises past its own noise while the training loss keeps falling.

The best validation loss is the lowest of the validation losses smoothed over `smooth` neighbours; the end is
the median of the last few. A rise counts when it is both `rise_noise` times the validation loss's noise
(estimated from its point-to-point changes) and `min_rise` of its best, when it is sustained (at least
`min_after` evaluations past the best) and when the training loss went on falling meanwhile: the model is
memorizing the training set. A validation loss that has settled on a noisy floor stays within its noise and
passes. Overfitting is the recipe's step 3, not a broken setup, so this is a warning: stop at the best step.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from nnrecipe.catalog import WATCH_CHECK_TITLES
from nnrecipe.watching.checks.base import Verdict, WatchCheck, noise, window_median
from nnrecipe.watching.record import Series, WatchRecord


@dataclass(frozen=True)
class OverfittingThresholds:
    #: validation losses needed before a trend is judged
    min_points: int = 5
    #: the best validation loss is taken over medians of this many neighbouring evaluations
    smooth: int = 3
    #: a rise is sustained when at least this many evaluations follow the best one
    min_after: int = 3
    #: the end is the median of this many last evaluations
    tail: int = 3
    #: a rise counts past this many times the validation loss's noise ...
    rise_noise: float = 3.0
    #: ... and past this share of the best validation loss
    min_rise: float = 0.05


def _smoothed(values: list[float], k: int) -> list[float]:
    half = k // 2
    return [window_median(values[max(0, i - half):i + half + 1]) for i in range(len(values))]


def _train_level(losses: Series, val_steps: list[int], first: int, last: int) -> float:
    """The median training loss over the steps the evaluations `first`..`last` cover (from just after the
    evaluation before `first`), so training and validation are compared over the same stretch of the run."""
    after = val_steps[first - 1] if first > 0 else -1
    lo, hi = bisect.bisect_right(losses.steps, after), bisect.bisect_right(losses.steps, val_steps[last])
    return window_median(losses.values[lo:hi] or losses.values[max(0, hi - 1):hi])


@dataclass(frozen=True)
class OverfittingEvidence:
    #: the finite validation losses judged (up to the first non-finite one)
    evaluations: int
    #: the lowest smoothed validation loss and its step; the median of the last `tail` ones and the last step
    best: float
    best_step: int
    end: float
    end_step: int
    #: evaluations after the best one
    after_best: int
    #: the validation loss's point-to-point noise (see `noise`)
    noise: float
    #: the median training loss around the best evaluation and over the last ones (None: no training loss)
    train_at_best: float | None = None
    train_end: float | None = None


class Overfitting(WatchCheck[OverfittingEvidence, OverfittingThresholds]):
    id = "overfitting"
    title = WATCH_CHECK_TITLES[id]
    Thresholds = OverfittingThresholds

    def applies(self, record: WatchRecord) -> str | None:
        n = len(record.val_losses.finite_prefix())
        if n < self.thresholds.min_points:
            return (f"{n} validation losses were logged; at least {self.thresholds.min_points} are needed "
                    "(pass val_loss=... to w.log on the steps you evaluate)")
        return None

    def measure(self, record: WatchRecord) -> OverfittingEvidence:
        t = self.thresholds
        val = record.val_losses.finite_prefix()
        smoothed = _smoothed(val.values, t.smooth)
        best_at = min(range(len(smoothed)), key=smoothed.__getitem__)
        train = record.losses.finite_prefix()
        train_at_best: float | None = None
        train_end: float | None = None
        if train:
            half, n = t.smooth // 2, len(val)
            train_at_best = _train_level(train, val.steps, max(0, best_at - half), min(n - 1, best_at + half))
            train_end = _train_level(train, val.steps, max(0, n - t.tail), n - 1)
        return OverfittingEvidence(
            evaluations=len(val), best=smoothed[best_at], best_step=val.steps[best_at],
            end=window_median(val.values[-t.tail:]), end_step=val.steps[-1],
            after_best=len(val) - 1 - best_at, noise=noise(val.values),
            train_at_best=train_at_best, train_end=train_end)

    def judge(self, e: OverfittingEvidence, t: OverfittingThresholds) -> Verdict:
        best, end, sigma = e.best, e.end, e.noise
        rise = end - best
        in_noise = rise / sigma if sigma > 0 else (0.0 if rise <= 0 else float("inf"))
        numbers = {"rise": rise, "rise_in_noise": in_noise, "relative_rise": rise / abs(best) if best else 0.0}
        where = (f"{e.evaluations} evaluations: best {best:.4g} around step {e.best_step}, {end:.4g} over the "
                 f"last {min(t.tail, e.evaluations)} to step {e.end_step}")
        rose = e.after_best >= t.min_after and in_noise > t.rise_noise and rise > t.min_rise * abs(best)
        if rose and e.train_end is not None and e.train_at_best is not None and e.train_end < e.train_at_best:
            return Verdict("warn", f"the validation loss rose {rise / abs(best):.0%} above its best ({in_noise:.0f}x "
                           f"its noise) while the training loss fell from {e.train_at_best:.4g} to "
                           f"{e.train_end:.4g} ({where})",
                           f"the model is memorizing the training set: keep the model of step {e.best_step} "
                           "(early stopping), then regularize: more data or augmentation, weight decay, dropout, "
                           "a smaller model (the recipe's step 4)", evidence=numbers)
        if rose:
            return Verdict("pass", f"the validation loss rose above its best, but so did the training loss: not "
                           f"overfitting (see loss-decreases) ({where})", evidence=numbers)
        return Verdict("pass", f"the validation loss stays within {t.rise_noise:.0f}x its noise of its best "
                       f"({where})", evidence=numbers)
