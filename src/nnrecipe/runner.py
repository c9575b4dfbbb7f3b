"""The check runner: every requested check runs in recipe order and appears in the result, whatever happens.

A check that crashes becomes an `error` row with its message; the run goes on. Each check runs with the
global random state saved and restored, so nothing the checks do leaks into the user's process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nnrecipe.audit.context import AuditContext
from nnrecipe.audit.sources import AuditData
from nnrecipe.checks.base import CannotRun, Check, check_result, error_result
from nnrecipe.checks.context import CheckContext, DataContext
from nnrecipe.errors import UsageError, did_you_mean
from nnrecipe.experiment import Experiment
from nnrecipe.progress import Progress
from nnrecipe.results import STAGES, CheckResult, Pictures, Report, RunResult, Stage
from nnrecipe.seeding import derive_seed, seeded


@dataclass(frozen=True)
class CheckRun:
    """Checks that ran: their results in order, and beside them their pictures' material by check id (only the
    checks that gave some)."""

    results: tuple[CheckResult, ...]
    pictures: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def select_checks(*, stages: Iterable[Stage] | None = None, ids: Sequence[str] | None = None) -> list[Check[Any, Any, Any]]:
    """Check instances from the registry, in recipe order, filtered by stage and/or id."""
    from nnrecipe.checks.registry import CHECKS

    if ids is not None:
        for check_id in ids:
            if check_id not in CHECKS:
                raise UsageError(f"unknown check {check_id!r}{did_you_mean(check_id, CHECKS)}; see `nnrecipe list`")
    wanted_stages = set(stages) if stages is not None else set(STAGES)
    chosen = [cls() for cid, cls in CHECKS.items() if cls.stage in wanted_stages and (ids is None or cid in ids)]
    return sorted(chosen, key=lambda c: STAGES.index(c.stage))


def run_check(check: Check[Any, Any, Any], ctx: DataContext) -> tuple[CheckResult, Mapping[str, Any]]:
    """One check: skip when it does not apply, else measure then judge; any exception becomes `error`. Returns
    the result and its pictures' material (`check.pictures(evidence)`; none for a skip or an error)."""
    started = time.perf_counter()
    try:
        # every check draws from its own seed (dropout masks, shuffles), so a check's numbers never depend on
        # what ran before it in the process; the caller's random state is put back afterwards
        with seeded(derive_seed(ctx.seed if ctx.seed is not None else 0, "check", check.id)):
            reason = _blocked(check, ctx) or check.applies(ctx)
            if reason is not None:
                return CheckResult(check.id, check.stage, "skip", reason, seconds=time.perf_counter() - started), {}
            evidence = check.measure(ctx)
            verdict = check.judge(evidence, check.thresholds)
    except CannotRun as reason:
        return CheckResult(check.id, check.stage, "skip", str(reason), seconds=time.perf_counter() - started), {}
    except Exception as exc:  # a broken check is a row in the report, never an abort
        return error_result(check.id, check.stage, exc, seconds=time.perf_counter() - started), {}
    result = check_result(check.id, check.stage, evidence, verdict, seconds=time.perf_counter() - started)
    return result, check.pictures(evidence)


def _blocked(check: Check[Any, Any, Any], ctx: DataContext) -> str | None:
    if ctx.blocked is not None and check.stage != "data" and check.needs_loss:
        return f"not run: {ctx.blocked}"
    return None


def run_checks(checks: Sequence[Check[Any, Any, Any]], ctx: DataContext, progress: Progress | None = None) -> CheckRun:
    results: list[CheckResult] = []
    pictures: dict[str, Mapping[str, Any]] = {}
    progress = progress or Progress()
    for check in checks:
        progress.check_started(check.id)
        result, material = run_check(check, ctx)
        results.append(result)
        if material:
            pictures[check.id] = material
        progress.check_done(result)
    return CheckRun(tuple(results), pictures)


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
    return check_report(experiment, stages=stages, ids=ids, device=device, seed=seed, progress=progress).result


def check_report(
    experiment: Experiment,
    *,
    stages: Iterable[Stage] = ("data", "skeleton"),
    ids: Sequence[str] | None = None,
    device: str = "auto",
    seed: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """`check`, with what its report draws beside the result: the checks' pictures and the look at the data."""
    from nnrecipe.audit.look import DataView
    from nnrecipe.engine.device import resolve_device
    from nnrecipe.engine.preflight import preflight

    stages = tuple(stages)
    ctx = CheckContext(experiment, device=resolve_device(device), seed=seed)
    ctx.blocked = preflight(experiment, model=any(s != "data" for s in stages), device=ctx.device)
    run = run_checks(select_checks(stages=stages, ids=ids), ctx, progress)
    look = DataView(ctx, vocab=experiment.vocab, seed=int(ctx.seed or 0))  # measured only if drawn
    result = RunResult(experiment=experiment.name, checks=run.results, command="check")
    return Report(result, Pictures(checks=run.pictures, run={"look_at_data": look}))


def audit_data(data: AuditData, *, seed: int = 0, ids: Sequence[str] | None = None,
               progress: Progress | None = None) -> RunResult:
    """Run every data-stage check on data from a path (no Experiment, no model needed): `nnrecipe audit PATH`."""
    return audit_report(data, seed=seed, ids=ids, progress=progress).result


def audit_report(data: AuditData, *, seed: int = 0, ids: Sequence[str] | None = None,
                 progress: Progress | None = None) -> Report:
    """`audit_data`, with the checks' pictures beside the result."""
    ctx = AuditContext(data, seed=seed)  # a DataContext: the data checks read nothing else
    run = run_checks(select_checks(stages=["data"], ids=ids), ctx, progress)
    return Report(RunResult(experiment=data.name, checks=run.results, command="audit"), Pictures(checks=run.pictures))
