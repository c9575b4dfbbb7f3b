"""Steps 1 and 2 are their checks: the step fails when one of its checks fails."""

from __future__ import annotations

from nnrecipe.results import Stage, Status, StepResult
from nnrecipe.runner import run_checks, select_checks
from nnrecipe.steps.state import RunState

STEP_DESCRIPTIONS = {
    "data": "become one with the data",
    "skeleton": "end-to-end skeleton and dumb baselines",
    "overfit": "a model large enough to fit the training set",
    "regularize": "trade some training loss for validation score",
}


def run_check_step(state: RunState, stage: Stage) -> StepResult | None:
    """Run the stage's checks; None when the stage has no checks to run."""
    checks = select_checks(stages=[stage])
    if not checks:
        return None
    state.progress.step_started(stage, STEP_DESCRIPTIONS[stage])
    results = run_checks(checks, state.ctx, state.progress)
    state.checks.extend(results)
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "warn", "fail", "error", "skip")}
    failed = [r.id for r in results if r.status == "fail"]
    status: Status = "fail" if failed else ("warn" if counts["warn"] or counts["error"] else "pass")
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if failed:
        summary += f"; failed: {', '.join(failed)}"
    return StepResult(stage, status, f"{len(results)} checks: {summary}", details={"counts": counts})
