"""Steps 1 and 2 are their checks: the step fails when one of its checks fails."""

from __future__ import annotations

from nnrecipe.results import Stage, Status, StepResult
from nnrecipe.runner import CheckRun, run_checks, select_checks
from nnrecipe.steps.context import RunContext, StepOutcome

STEP_DESCRIPTIONS = {
    "data": "become one with the data",
    "skeleton": "end-to-end skeleton and dumb baselines",
    "overfit": "a model large enough to fit the training set",
    "regularize": "trade some training loss for validation score",
}


def run_check_step(run: RunContext, stage: Stage) -> StepOutcome[CheckRun] | None:
    """Run the stage's checks; None when the stage has no checks to run. Its findings are the checks' rows and
    their pictures' material, for the report."""
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
    return StepOutcome(step, findings=checked)
