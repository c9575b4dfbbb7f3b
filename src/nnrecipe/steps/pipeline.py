"""`nnrecipe run`: the recipe's steps in order, each behind its gate, then the final scores.

A step that fails closes the gate: the steps after it are recorded as skipped with the reason, unless
`force` is set, in which case the run goes on and says so. With a run folder, every finished unit of work
(a ladder rung, a step-4 candidate, each epoch of the one in progress) is saved as it ends, so the same
command run again after a crash or Ctrl-C continues where it stopped and reaches the same result.

Data flows one way: each step is a function of the run's context and of what the steps before it handed back
(`SoFar`: the settled model and configuration, each step's findings), and returns a `StepOutcome`; the walk
below passes outcomes on and collects the result rows and the pictures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from nnrecipe.audit.look import DataView
from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.device import resolve_device
from nnrecipe.engine.observe import training_recorders
from nnrecipe.engine.preflight import preflight
from nnrecipe.engine.run_folder import RunLock, check_destinations, mark
from nnrecipe.errors import UsageError, did_you_mean
from nnrecipe.experiment import Experiment
from nnrecipe.progress import Progress
from nnrecipe.results import STAGES, CheckResult, Pictures, Report, RunResult, Stage, StepResult
from nnrecipe.runner import CheckRun
from nnrecipe.steps.baseline import Baseline, BaselineError
from nnrecipe.steps.checks_step import STEP_DESCRIPTIONS, run_check_step
from nnrecipe.steps.config import budget_for
from nnrecipe.steps.context import RunContext, Settled, StepOutcome
from nnrecipe.steps.ending import as_written, end_run, fingerprint, scores
from nnrecipe.steps.journal import Journal
from nnrecipe.steps.overfit import run_overfit
from nnrecipe.steps.pool import UnitPool, default_workers, identity, setup_for
from nnrecipe.steps.regularize import RegularizeFindings, run_regularize
from nnrecipe.steps.squeeze import run_squeeze
from nnrecipe.steps.tune import TuneFindings, run_tune


@dataclass(frozen=True)
class SoFar:
    """What the steps so far handed on: the settled model and configuration, each step's findings and the model
    each training step ended with (the squeeze table shows step 4's beside its own)."""

    settled: Settled = field(default_factory=Settled)
    findings: Mapping[str, Any] = field(default_factory=dict)
    models: Mapping[str, nn.Module] = field(default_factory=dict)

    def found(self, stage: Stage, kind: type) -> Any:
        """A step's findings when they are of `kind`, else None (the step did not run, or found nothing)."""
        value = self.findings.get(stage)
        return value if isinstance(value, kind) else None


Step = Callable[[RunContext, SoFar], "StepOutcome[Any] | None"]

#: the steps `run` walks, in the recipe's order; each reads the run's context and what the steps before it found
STEPS: tuple[tuple[Stage, Step], ...] = (
    ("data", lambda run, so_far: run_check_step(run, "data")),
    ("skeleton", lambda run, so_far: run_check_step(run, "skeleton")),
    ("overfit", lambda run, so_far: run_overfit(run)),
    ("regularize", lambda run, so_far: run_regularize(run, so_far.settled)),
    ("tune", lambda run, so_far: run_tune(run, so_far.settled, so_far.found("regularize", RegularizeFindings))),
    ("squeeze", lambda run, so_far: run_squeeze(run, so_far.settled, tuned=so_far.found("tune", TuneFindings),
                                                step4=so_far.models.get("regularize"))),
)
_TRAINING_STEPS = ("overfit", "regularize", "tune", "squeeze")
_DESCRIPTIONS = {**STEP_DESCRIPTIONS, "tune": "random search around the settled configuration (Optuna)",
                 "squeeze": "ensemble, distillation, training longer"}


def run_pipeline(experiment: Experiment, *, device: str = "auto", seed: int | None = None, budget: str = "default",
                 out_dir: str | Path | None = None, force: bool = False, progress: Progress | None = None,
                 until: Stage | None = None, workers: int | None = 1) -> RunResult:
    """Walk the steps; with `until`, stop after that step (the steps after it are recorded as skipped)."""
    return run_report(experiment, device=device, seed=seed, budget=budget, out_dir=out_dir, force=force,
                      progress=progress, until=until, workers=workers).result


def run_report(experiment: Experiment, *, device: str = "auto", seed: int | None = None, budget: str = "default",
               out_dir: str | Path | None = None, force: bool = False, progress: Progress | None = None,
               until: Stage | None = None, workers: int | None = 1) -> Report:
    """`run_pipeline`, with the material of the report's pictures beside the result.

    `workers`: processes that train the steps' independent units of work side by side (None: one per physical
    core on a CPU, one on an accelerator; 1: everything in this process). They need an experiment that comes
    from a spec, which each of them loads again.
    """
    budget_for(budget)  # an unknown budget is a usage error before any work
    if until is not None and until not in STAGES:
        raise UsageError(f"until: expected one of {', '.join(STAGES)}, but got {until!r}{did_you_mean(until, STAGES)}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise UsageError(f"workers: expected a whole number >= 1 (or None: one per core), but got {workers!r}")
    ctx = CheckContext(experiment, device=resolve_device(device), seed=seed, budget=budget)
    ctx.blocked = preflight(experiment, device=ctx.device)
    folder = Path(out_dir) if out_dir is not None else None
    with contextlib.ExitStack() as held:
        if folder is not None:  # one run at a time in a folder, and never over a user's own files
            check_destinations(out_dir=folder, json_path=None)
            held.enter_context(RunLock(folder, command=f"nnrecipe run {experiment.name}"))
            mark(folder)
        run = _context(experiment, ctx, folder, progress or Progress())
        pool = _pool(run, workers)
        if pool is not None:
            held.callback(pool.close)
            run = dataclasses.replace(run, pool=pool)
        return _walk(run, force=force, until=until)


def _pool(run: RunContext, workers: int | None) -> UnitPool | None:
    """The run's worker processes, when more than one is asked for and they can build the experiment."""
    count = default_workers(run.device) if workers is None else workers
    if count <= 1:
        return None
    if run.device.type != "cpu":
        run.progress.note(f"{count} workers asked for on {run.device.type}: one process trains there, in turn")
        return None
    setup = setup_for(run.experiment, workers=count, device=run.device, identity=identity(run.experiment, run.ctx),
                      seed=int(run.ctx.seed if run.ctx.seed is not None else run.experiment.seed), budget=run.budget)
    if setup is None:
        if workers is not None:  # asked for, so say why not
            run.progress.note("workers need an experiment from a spec file or a built-in name (each builds it "
                              "again); this one was built in Python, so one process trains")
        return None
    return UnitPool(setup, count)


def _context(experiment: Experiment, ctx: CheckContext, folder: Path | None, progress: Progress) -> RunContext:
    journal = Journal(folder, fingerprint(experiment, ctx))
    for path in journal.set_aside:
        progress.note(f"{path.name.split('.unreadable-')[0]} could not be read; set aside as {path.name}, its "
                      "work is done again")
    if journal.discarded:
        progress.note(f"{folder} held a run with other settings; starting over")
    elif journal.resumed:
        progress.note(f"resuming from {folder}: {len(journal.units)} finished units of work are reused")
    # the report's recorders ride along every step-4 training; the kept model's recordings reach the report
    return RunContext(experiment, ctx, folder, progress, journal, recorders=training_recorders)


@dataclass
class _Walked:
    """What the walk collects as it goes (the walk's own bookkeeping, never seen by a step)."""

    checks: list[CheckResult] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    check_pictures: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    step_pictures: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    recordings: Mapping[str, Any] = field(default_factory=dict)
    baseline: Baseline | BaselineError | None = None


def _walk(run: RunContext, *, force: bool, until: Stage | None) -> Report:
    walked, so_far = _Walked(), SoFar()
    closed_by: StepResult | None = None
    for stage, step in STEPS:
        skipped = _skipped(stage, closed_by, until)
        if skipped is not None:
            _record(run, walked, skipped, force=force)
            continue
        if stage in _TRAINING_STEPS:
            if walked.baseline is None:
                walked.baseline = as_written(run)
            run.progress.step_started(stage, _DESCRIPTIONS[stage])
        started = time.perf_counter()
        outcome = step(run, so_far)
        if outcome is None:
            continue
        so_far = _handed_on(stage, outcome, so_far, walked)
        result = outcome.result
        if stage in _TRAINING_STEPS and so_far.settled.model is not None:
            result = dataclasses.replace(result, scores=scores(run, so_far.settled.model))
            so_far = dataclasses.replace(so_far, models={**so_far.models, stage: so_far.settled.model})
        _record(run, walked, dataclasses.replace(result, seconds=time.perf_counter() - started), force=force)
        if result.status == "fail" and not force:
            closed_by = result
    return _report(run, walked, so_far)


def _skipped(stage: Stage, closed_by: StepResult | None, until: Stage | None) -> StepResult | None:
    if closed_by is not None:
        return StepResult(stage, "skip", f"not run: step {closed_by.step} failed (--force goes on past a failed gate)")
    if until is not None and STAGES.index(stage) > STAGES.index(until):
        return StepResult(stage, "skip", f"not run: the run stops after step {until} (--until)")
    return None


def _handed_on(stage: Stage, outcome: StepOutcome[Any], so_far: SoFar, walked: _Walked) -> SoFar:
    """What the step hands to the steps after it; its pictures and checks go to the report."""
    if isinstance(outcome.findings, CheckRun):
        walked.checks.extend(outcome.findings.results)
        walked.check_pictures.update(outcome.findings.pictures)
    if outcome.pictures:
        walked.step_pictures[stage] = outcome.pictures
    if outcome.model is not None and outcome.recordings:
        walked.recordings = outcome.recordings
    findings = {**so_far.findings, stage: outcome.findings} if outcome.findings is not None else so_far.findings
    return SoFar(outcome.settled(so_far.settled), findings, so_far.models)


def _record(run: RunContext, walked: _Walked, step: StepResult, *, force: bool) -> None:
    walked.steps.append(step)
    run.progress.step_done(step)
    if step.status == "fail" and force:
        run.progress.note(f"step {step.step} failed; going on because of --force")


def _report(run: RunContext, walked: _Walked, so_far: SoFar) -> Report:
    """The end of the run (see `steps.ending`): the final model chosen, analysed and saved; the result and the
    pictures."""
    ended = end_run(run, tuple(walked.steps), so_far.settled, so_far.models, walked.baseline)
    look = DataView(run.ctx, vocab=run.experiment.vocab)
    result = RunResult(experiment=run.experiment.name, checks=tuple(walked.checks), steps=ended.steps,
                       scores=ended.scores, command="run",
                       baseline=ended.baseline.to_dict() if ended.baseline is not None else {})
    pictures = Pictures(checks=dict(walked.check_pictures), steps=dict(walked.step_pictures),
                        run={**walked.recordings, **ended.pictures, "look_at_data": look})
    return Report(result, pictures)
