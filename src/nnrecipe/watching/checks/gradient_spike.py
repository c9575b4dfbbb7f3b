"""gradient-spike: the total gradient norm does not jump far above its running level, and when it does
once, training recovers.

The gradient norm is read every few steps (see `nnrecipe.watching.steplog.GRAD_NORM_EVERY`). A spike is a
reading `spike_factor` times the median of the readings before it *and* far outside their own spread, taken
on a log scale (`noise_factor` robust standard deviations): near the end of a run, when most batches are fit
and the norm is tiny, single batches routinely give gradients ten times the median, and that is noise, not a
spike. One spike that the loop absorbs (the gradient norm and the loss are back near their level within
`recover_steps`) is ordinary and passes; a spike the run does not come back from (a corrupted batch that
knocked the weights off course), or spikes that keep coming, mean the step size or the data is wrong.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.catalog import WATCH_CHECK_TITLES
from nnrecipe.watching.checks.base import Verdict, WatchCheck, noise, robust_std, window_median
from nnrecipe.watching.record import Series, WatchRecord

LISTED = 6
#: gradient norms are compared on a log scale, floored here (a norm of exactly zero has no logarithm)
TINY = 1e-30


@dataclass(frozen=True)
class GradientSpikeThresholds:
    #: a spike needs at least this many earlier readings to compare with
    min_history: int = 10
    #: the running level is the median of this many preceding readings
    window: int = 50
    #: a reading this many times the running level ...
    spike_factor: float = 10.0
    #: ... and this many robust standard deviations of the preceding log-norms above their median is a spike
    noise_factor: float = 5.0
    #: recovered: within this many steps after the spike ...
    recover_steps: int = 40
    #: ... the median gradient norm is back under this multiple of the level before the spike ...
    recover_factor: float = 3.0
    #: ... and the median loss under this multiple of its level before the spike (see `_loss_back`)
    loss_factor: float = 1.5
    #: this many spikes in one run fail, even when each recovered; two of them warn
    repeated: int = 3


def _window(log_norms: np.ndarray, i: int, t: GradientSpikeThresholds) -> tuple[float, float]:
    """The median and the robust spread of the (up to) `window` log-norms before reading i."""
    before = log_norms[max(0, i - t.window):i].tolist()
    return window_median(before), robust_std(before)


def _candidates(log_norms: np.ndarray, t: GradientSpikeThresholds) -> list[int]:
    """Readings that could be spikes: more than `spike_factor` times the *lowest* of the readings before them
    (a median is never below the minimum, so no spike is missed; the exact test then runs on these few)."""
    n, w = len(log_norms), t.window
    floor = np.full(n, np.inf)
    if n > t.min_history:
        floor[t.min_history:min(n, w)] = np.minimum.accumulate(log_norms)[t.min_history - 1:min(n, w) - 1]
    if n > w:
        floor[w:] = np.lib.stride_tricks.sliding_window_view(log_norms[:-1], w).min(axis=1)
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(log_norms - floor > math.log(t.spike_factor)).tolist()  # type: ignore[no-any-return]


def find_spikes(norms: Series, losses: Series, t: GradientSpikeThresholds, *, finished: bool) -> list[dict[str, Any]]:
    """Every spike: its step, norm, level and ratio, and whether the run recovered from it (None: a spike too
    close to the end of the steps seen so far to tell)."""
    values = np.asarray(norms.values, dtype=float)
    log_norms = np.log(np.maximum(values, TINY))
    spikes: list[dict[str, Any]] = []
    resume = 0
    for start in _candidates(log_norms, t):
        if start < resume:
            continue
        level, spread = _window(log_norms, start, t)
        jump = log_norms[start] - level
        if not (jump > math.log(t.spike_factor) and jump > t.noise_factor * spread):
            continue
        base = math.exp(level)
        end = _burst_end(norms, values, start, base, t)
        spike: dict[str, Any] = {"step": norms.steps[start], "norm": float(values[start]), "level": base,
                                 "ratio": float(values[start]) / base, "readings": end - start}
        spike.update(_recovery(norms, losses, start, end, base, t, finished=finished))
        spikes.append(spike)
        resume = end
        if spike["recovered"] is False:  # the level itself has moved: its aftermath is the same spike
            resume = bisect.bisect_right(norms.steps, norms.steps[end - 1] + t.recover_steps)
    return spikes


def _burst_end(norms: Series, values: np.ndarray, start: int, base: float, t: GradientSpikeThresholds) -> int:
    """One past the last reading of the spike that starts at `start`: a burst of spiking readings is one spike;
    a "burst" as long as the recovery window is the norm staying up."""
    end = start + 1
    while (end < len(values) and values[end] > t.spike_factor * base
           and norms.steps[end] - norms.steps[start] < t.recover_steps):
        end += 1
    return end


def _recovery(norms: Series, losses: Series, start: int, end: int, level: float, t: GradientSpikeThresholds, *,
              finished: bool) -> dict[str, Any]:
    """Whether the gradient norm and the loss came back within `recover_steps` after the spike (readings
    start..end-1). Undecided (None) while a running loop has not shown those steps yet, or when a finished one
    stopped within half of them."""
    last = norms.steps[end - 1]
    stop = bisect.bisect_right(norms.steps, last + t.recover_steps)
    after = norms.values[end:stop]
    seen = norms.steps[-1] - last  # steps shown after the spike
    if not after or (seen < t.recover_steps and (not finished or seen < t.recover_steps // 2)):
        return {"recovered": None}
    norm_after = window_median(after)
    spike_step = norms.steps[start]
    loss_before = _values_between(losses, spike_step - t.window, spike_step - 1)
    loss_after = _values_between(losses, last + 1, last + t.recover_steps)
    norm_back = math.isfinite(norm_after) and norm_after <= t.recover_factor * level
    out: dict[str, Any] = {"recovered": bool(norm_back and _loss_back(loss_before, loss_after, t)),
                           "norm_after": norm_after}
    if loss_before and loss_after:
        out.update(loss_before=window_median(loss_before), loss_after=window_median(loss_after))
    return out


def _values_between(series: Series, first: int, last: int) -> list[float]:
    lo, hi = bisect.bisect_left(series.steps, first), bisect.bisect_right(series.steps, last)
    return series.values[lo:hi]


def _loss_back(before: list[float], after: list[float], t: GradientSpikeThresholds) -> bool:
    """The median loss after the spike is back under `loss_factor` times its level before, give or take three
    times its noise (so a loss near zero is not held to a tiny multiple of itself). Without losses to compare,
    the gradient norm decides alone."""
    if not before or not after:
        return True
    level, now = window_median(before), window_median(after)
    return math.isfinite(now) and now <= level + (t.loss_factor - 1) * abs(level) + 3 * noise(before)


@dataclass(frozen=True)
class GradientSpikeEvidence:
    #: the finite gradient norms read (up to the first non-finite one), their median and their largest
    gradient_norms: int
    median_norm: float
    max_norm: float
    #: the first 50 spikes (see `find_spikes`), and how many there were in all
    spikes: list[dict[str, Any]]
    spike_count: int
    #: the loop has ended (a spike near the end can then be judged on the steps it left)
    finished: bool


class GradientSpike(WatchCheck[GradientSpikeEvidence, GradientSpikeThresholds]):
    id = "gradient-spike"
    title = WATCH_CHECK_TITLES[id]
    Thresholds = GradientSpikeThresholds
    online_after = 20

    def applies(self, record: WatchRecord) -> str | None:
        if len(record.grad_norms) <= self.thresholds.min_history:
            return (f"{len(record.grad_norms)} gradient norms were read; more than {self.thresholds.min_history} "
                    "are needed")
        return None

    def measure(self, record: WatchRecord) -> GradientSpikeEvidence:
        norms = record.grad_norms.finite_prefix()
        spikes = find_spikes(norms, record.losses, self.thresholds, finished=record.finished)
        return GradientSpikeEvidence(gradient_norms=len(norms), median_norm=window_median(norms.values),
                                     max_norm=max(norms.values, default=math.nan), spikes=spikes[:50],
                                     spike_count=len(spikes), finished=record.finished)

    def judge(self, e: GradientSpikeEvidence, t: GradientSpikeThresholds) -> Verdict:
        decided = [s for s in e.spikes if s["recovered"] is not None]
        stuck = next((s for s in decided if not s["recovered"]), None)
        if stuck is not None:
            return _not_recovered(stuck, t)
        steps = ", ".join(str(s["step"]) for s in e.spikes[:LISTED]) + (" ..." if len(e.spikes) > LISTED else "")
        if e.spike_count >= t.repeated:
            return Verdict("fail", f"{e.spike_count} gradient spikes (over {t.spike_factor:.0f}x the running "
                           f"level) at steps {steps}",
                           "spikes keep coming: the learning rate is too high for this loss surface, or some "
                           "batches are broken; clip gradients, lower the learning rate, inspect those batches")
        pending = [s for s in e.spikes if s["recovered"] is None]
        if pending and e.finished:
            s = pending[0]
            return Verdict("warn", f"the gradient norm jumped to {s['ratio']:.0f}x its running level at step "
                           f"{s['step']}, too close to the end to tell whether training recovers",
                           "look at the batch of that step; watch a longer run")
        return _recovered(e, t, decided, steps)


def _not_recovered(stuck: dict[str, Any], t: GradientSpikeThresholds) -> Verdict:
    """A fail: a spike the run did not come back from."""
    loss = (f"; the loss went from {stuck['loss_before']:.4g} to {stuck['loss_after']:.4g}"
            if "loss_after" in stuck else "")
    return Verdict("fail", f"the gradient norm jumped to {stuck['ratio']:.0f}x its running level by step "
                   f"{stuck['step']} ({stuck['norm']:.3g} against {stuck['level']:.3g}) and training did not "
                   f"recover within {t.recover_steps} steps (median norm then {stuck['norm_after']:.3g}{loss})",
                   "one batch knocked the weights off course: look at the batch of that step (corrupted or "
                   "unnormalized inputs, wrong labels), lower the learning rate, or clip gradients "
                   "(torch.nn.utils.clip_grad_norm_)")


def _recovered(e: GradientSpikeEvidence, t: GradientSpikeThresholds, decided: list[dict[str, Any]],
               steps: str) -> Verdict:
    """Every decided spike recovered: a warning for a few of them, a pass for one or none."""
    if len(decided) >= 2:
        return Verdict("warn", f"{len(decided)} gradient spikes (over {t.spike_factor:.0f}x the running level) "
                       f"at steps {steps}; training recovered from each",
                       "occasional spikes: inspect those batches; gradient clipping or a lower learning rate "
                       "smooths them")
    if decided:
        s = decided[0]
        return Verdict("pass", f"one gradient spike ({s['ratio']:.0f}x the running level at step {s['step']}), "
                       f"recovered within {t.recover_steps} steps; {e.gradient_norms} readings, median "
                       f"{e.median_norm:.3g}")
    return Verdict("pass", f"no gradient spike in {e.gradient_norms} readings: median norm "
                   f"{e.median_norm:.3g}, max {e.max_norm:.3g}")
