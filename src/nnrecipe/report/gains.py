"""What each step of a run gained: the model's validation and test figure when the step ended, step by step.

Both views (terminal and HTML) show it beside the steps, so "what did tuning buy me" is read off one column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nnrecipe.results import StepResult


def gain_metric(steps: Sequence[StepResult]) -> str:
    """The figure the gains are shown in: accuracy where the steps scored one, else the loss."""
    metrics = {m for s in steps for split in s.scores.values() for m in split}
    return "accuracy" if "accuracy" in metrics else "loss"


def step_gains(steps: Sequence[StepResult]) -> list[dict[str, str]]:
    """Per step, formatted: val and test figure at its end, and the val change since the last scored step."""
    metric = gain_metric(steps)
    out: list[dict[str, str]] = []
    previous: float | None = None
    for s in steps:
        val = s.scores.get("val", {}).get(metric)
        test = s.scores.get("test", {}).get(metric)
        change = "" if val is None or previous is None else f"{val - previous:+.4g}"
        out.append({"val": _fmt(val), "test": _fmt(test), "change": change})
        previous = val if val is not None else previous
    return out


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if math.isfinite(value) else str(value)
