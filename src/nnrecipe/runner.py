"""The check runner: every requested check runs in recipe order and appears in the result, whatever happens.

A check that crashes becomes an `error` row with its message; the run goes on. Each check runs with the
global random state saved and restored, so nothing the checks do leaks into the user's process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from nnrecipe.checks.base import CannotRun, Check, check_result, error_result
from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.seeding import preserved_random_state
from nnrecipe.errors import UsageError, did_you_mean
from nnrecipe.experiment import Experiment
from nnrecipe.progress import Progress
from nnrecipe.results import STAGES, CheckResult, RunResult, Stage


def select_checks(*, stages: Iterable[Stage] | None = None, ids: Sequence[str] | None = None) -> list[Check]:
    """Check instances from the registry, in recipe order, filtered by stage and/or id."""
    from nnrecipe.checks.registry import CHECKS

    if ids is not None:
        for check_id in ids:
            if check_id not in CHECKS:
                raise UsageError(f"unknown check {check_id!r}{did_you_mean(check_id, CHECKS)}; see `nnrecipe list`")
    wanted_stages = set(stages) if stages is not None else set(STAGES)
    chosen = [cls() for cid, cls in CHECKS.items() if cls.stage in wanted_stages and (ids is None or cid in ids)]
    return sorted(chosen, key=lambda c: STAGES.index(c.stage))


def run_check(check: Check, ctx: CheckContext) -> CheckResult:
    """One check: skip when it does not apply, else measure then judge; any exception becomes `error`."""
    started = time.perf_counter()
    try:
        with preserved_random_state():
            reason = _blocked(check, ctx) or check.applies(ctx)
            if reason is not None:
                return CheckResult(check.id, check.stage, "skip", reason, seconds=time.perf_counter() - started)
            measured = check.measure(ctx)
            verdict = check.judge(measured, check.thresholds)
    except CannotRun as reason:
        return CheckResult(check.id, check.stage, "skip", str(reason), seconds=time.perf_counter() - started)
    except Exception as exc:  # a broken check is a row in the report, never an abort
        return error_result(check.id, check.stage, exc, seconds=time.perf_counter() - started)
    return check_result(check.id, check.stage, measured, verdict, seconds=time.perf_counter() - started,
                        artifacts=check.artifacts(measured))


def _blocked(check: Check, ctx: CheckContext) -> str | None:
    if ctx.blocked is not None and check.stage != "data" and check.needs_loss:
        return f"not run: {ctx.blocked}"
    return None


def run_checks(checks: Sequence[Check], ctx: CheckContext, progress: Progress | None = None) -> tuple[CheckResult, ...]:
    results = []
    progress = progress or Progress()
    for check in checks:
        progress.check_started(check.id)
        result = run_check(check, ctx)
        results.append(result)
        progress.check_done(result)
    return tuple(results)


def check(
    experiment: Experiment,
    *,
    stages: Iterable[Stage] = ("data", "skeleton"),
    ids: Sequence[str] | None = None,
    device: str = "auto",
    seed: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run the checks of the given recipe stages (default: data and skeleton) on an experiment."""
    from nnrecipe.engine.device import resolve_device
    from nnrecipe.engine.preflight import preflight

    stages = tuple(stages)
    ctx = CheckContext(experiment, device=resolve_device(device), seed=seed)
    ctx.blocked = preflight(experiment, model=any(s != "data" for s in stages), device=ctx.device)
    results = run_checks(select_checks(stages=stages, ids=ids), ctx, progress)
    from nnrecipe.report.look import DataView  # the report's "look at the data", measured only if drawn

    look = DataView(ctx, vocab=experiment.meta.get("vocab"), seed=int(ctx.seed or 0))
    return RunResult(experiment=experiment.name, checks=results, command="check", artifacts={"look_at_data": look})
