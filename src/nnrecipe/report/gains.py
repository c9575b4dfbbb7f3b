"""What each step of a run gained: the model's validation and test figure when the step ended, step by step,
and against the experiment as written (the baseline `run` trains first, exactly as the spec says).

Both views (terminal and HTML) show it beside the steps, so "what did tuning buy me" is read off one column,
and "what did the recipe buy me" off one line: "as written: val 0.91 -> after the recipe: 0.97".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from nnrecipe.results import RunResult, StepResult


def gain_metric(steps: Sequence[StepResult], baseline: Mapping[str, Any] | None = None) -> str:
    """The figure the gains are shown in: accuracy where the steps (or the baseline) scored one, else the loss."""
    scored = [s.scores for s in steps] + ([baseline.get("scores", {})] if baseline else [])
    metrics = {m for scores in scored for split in scores.values() for m in split}
    return "accuracy" if "accuracy" in metrics else "loss"


def step_gains(steps: Sequence[StepResult], baseline: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """Per step, formatted: val and test figure at its end, the val change since the last scored step (the
    experiment as written, first), and the val change against the experiment as written."""
    metric = gain_metric(steps, baseline)
    written = _figure(baseline, "val", metric)
    out: list[dict[str, str]] = []
    previous = written
    for s in steps:
        val = s.scores.get("val", {}).get(metric)
        test = s.scores.get("test", {}).get(metric)
        change = "" if val is None or previous is None else f"{val - previous:+.4g}"
        versus = "" if val is None or written is None else f"{val - written:+.4g}"
        out.append({"val": _fmt(val), "test": _fmt(test), "change": change, "vs_baseline": versus})
        previous = val if val is not None else previous
    return out


def baseline_row(baseline: Mapping[str, Any] | None, steps: Sequence[StepResult]) -> dict[str, str] | None:
    """The steps table's first row: the experiment as written, or None when the run did not train it."""
    if not baseline:
        return None
    if "error" in baseline:
        return {"val": "", "test": "", "summary": f"the experiment as written could not be trained: {baseline['error']}"}
    metric = gain_metric(steps, baseline)
    summary = f"trained exactly as the spec says: {baseline.get('epochs')} epochs, {baseline.get('seconds', 0):.1f} s"
    if baseline.get("chosen"):
        summary += "; it did better on validation than the recipe's final model, so it is the run's model"
    return {"val": _fmt(_figure(baseline, "val", metric)), "test": _fmt(_figure(baseline, "test", metric)),
            "summary": summary}


def headline(result: RunResult) -> str | None:
    """'as written: val 0.91 -> after the recipe: 0.97 (test 0.90 -> 0.96)', or None without a baseline."""
    baseline = result.baseline
    metric = gain_metric(result.steps, baseline)
    before, after = _figure(baseline, "val", metric), result.scores.get("val", {}).get(metric)
    if before is None or after is None:
        return None
    text = f"as written: val {metric} {_fmt(before)} -> after the recipe: {_fmt(after)}"
    test_before, test_after = _figure(baseline, "test", metric), result.scores.get("test", {}).get(metric)
    if test_before is not None and test_after is not None:
        text += f" (test {_fmt(test_before)} -> {_fmt(test_after)})"
    if baseline.get("chosen"):
        text += "; the experiment as written stays the run's model"
    return text


def _figure(baseline: Mapping[str, Any] | None, split: str, metric: str) -> float | None:
    value = (baseline or {}).get("scores", {}).get(split, {}).get(metric)
    return float(value) if isinstance(value, (int, float)) else None


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if math.isfinite(value) else str(value)
