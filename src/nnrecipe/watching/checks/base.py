"""The protocol of an online check: it *measures* plain numbers from a `WatchRecord`, then a pure function
*judges* them against named thresholds, as every nnrecipe check does (see `nnrecipe.checks.base`).

A check is `WatchCheck[Evidence, Thresholds]`: `measure(record) -> Evidence` gives a frozen dataclass (its
`internal()` fields the judge reads but the document does not show, its `picture()` fields the report's
material), `judge(evidence, thresholds) -> Verdict` is pure, as in `nnrecipe.checks.base`.

A watch check never touches torch: the watcher has already turned what it saw into numbers. The same check
runs during training (on sampled steps, so a finding reaches the log when it happens) and once more at the
end on everything that was seen, which is the verdict the result document keeps.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from nnrecipe.checks.base import NoThresholds, Verdict, check_result, error_result, picture_fields
from nnrecipe.results import CheckResult, Stage
from nnrecipe.watching.record import WatchRecord

#: the stage every watch check reports under (CONTRACT §4); the report shows it as its "training" section
TRAINING: Stage = "training"

#: a check's evidence (a frozen dataclass) and its thresholds
E = TypeVar("E")
T = TypeVar("T")

__all__ = ["TRAINING", "Verdict", "WatchCheck", "noise", "robust_std", "run_watch_check", "run_watch_check_pictured",
           "window_median"]


class WatchCheck(Generic[E, T]):
    """Base class of the online checks: `WatchCheck[Evidence, Thresholds]`. Subclasses set `id`, `title`,
    `Thresholds` and implement `measure` and `judge`."""

    id: ClassVar[str]
    title: ClassVar[str] = ""
    Thresholds: ClassVar[type] = NoThresholds
    #: judged during training only once the loop has taken this many steps (the final verdict always runs)
    online_after: ClassVar[int] = 1

    def __init__(self, thresholds: T | None = None) -> None:
        self.thresholds: T = thresholds if thresholds is not None else self.Thresholds()

    def applies(self, record: WatchRecord) -> str | None:
        """A reason to skip this check for what was seen, or None when it applies."""
        return None

    def measure(self, record: WatchRecord) -> E:
        raise NotImplementedError

    def judge(self, e: E, t: T) -> Verdict:
        raise NotImplementedError

    def pictures(self, e: E) -> Mapping[str, Any]:
        """In-memory material for the report's picture of this check (never part of the JSON document)."""
        return picture_fields(e)


def run_watch_check(check: WatchCheck[Any, Any], record: WatchRecord) -> CheckResult:
    """One check on a record: skip, or measure then judge; a check that raises becomes an `error` row."""
    return run_watch_check_pictured(check, record)[0]


def run_watch_check_pictured(check: WatchCheck[Any, Any], record: WatchRecord) -> tuple[CheckResult, Mapping[str, Any]]:
    """`run_watch_check`, and the material of the check's picture (`check.pictures` of its evidence; none for a
    skip or an error)."""
    started = time.perf_counter()
    try:
        reason = check.applies(record)
        if reason is not None:
            return CheckResult(check.id, TRAINING, "skip", reason, seconds=time.perf_counter() - started), {}
        evidence = check.measure(record)
        verdict = check.judge(evidence, check.thresholds)
    except Exception as exc:  # a broken check is a row in the report, never a broken training loop
        return error_result(check.id, TRAINING, exc, seconds=time.perf_counter() - started), {}
    result = check_result(check.id, TRAINING, evidence, verdict, seconds=time.perf_counter() - started)
    return result, check.pictures(evidence)


def window_median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if len(values) else float("nan")


def robust_std(values: Sequence[float]) -> float:
    """1.4826 x the median absolute deviation: the standard deviation of the bulk, deaf to outliers."""
    if not len(values):
        return 0.0
    centre = statistics.median(values)
    return 1.4826 * statistics.median([abs(v - centre) for v in values])


def noise(values: Sequence[float]) -> float:
    """The step-to-step noise of a series (its standard deviation, robustly): the robust spread of its first
    differences, over sqrt(2). Differencing cancels a slow trend, the median ignores the odd spike."""
    if len(values) < 3:
        return 0.0
    return robust_std([b - a for a, b in zip(values, values[1:], strict=False)]) / 2**0.5
