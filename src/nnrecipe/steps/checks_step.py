"""Steps 1 and 2 are their checks: the step fails when one of its checks fails."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nnrecipe.results import CheckResult, Stage, Status, StepResult
from nnrecipe.runner import run_checks, select_checks
from nnrecipe.steps.context import RunContext, StepOutcome

STEP_DESCRIPTIONS = {
    "data": "become one with the data",
    "skeleton": "end-to-end skeleton and dumb baselines",
    "overfit": "a model large enough to fit the training set",
    "regularize": "trade some training loss for validation score",
}


@dataclass(frozen=True)
class ChecksFound:
    """A checks step's rows, and the material of their pictures (by check id) for the report."""

    checks: tuple[CheckResult, ...]
    pictures: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def run_check_step(run: RunContext, stage: Stage) -> StepOutcome[ChecksFound] | None:
    """Run the stage's checks; None when the stage has no checks to run."""
    checks = select_checks(stages=[stage])
    if not checks:
        return None
    run.progress.step_started(stage, STEP_DESCRIPTIONS[stage])
    checked = run_checks(checks, run.ctx, run.progress)
    results = checked.results
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "warn", "fail", "error", "skip")}
    failed = [r.id for r in results if r.status == "fail"]
    status: Status = "fail" if failed else ("warn" if counts["warn"] or counts["error"] else "pass")
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if failed:
        summary += f"; failed: {', '.join(failed)}"
    step = StepResult(stage, status, f"{len(results)} checks: {summary}", details={"counts": counts})
    return StepOutcome(step, findings=ChecksFound(tuple(results), dict(checked.pictures)))
