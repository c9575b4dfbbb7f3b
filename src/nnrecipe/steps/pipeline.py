"""`nnrecipe run`: the recipe's steps in order, each behind its gate, then the final scores.

A step that fails closes the gate: the steps after it are recorded as skipped with the reason, unless
`force` is set, in which case the run goes on and says so. With a run folder, every finished unit of work
(a ladder rung, a step-4 candidate, each epoch of the one in progress) is saved as it ends, so the same
command run again after a crash or Ctrl-C continues where it stopped and reaches the same result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.checkpoint import save_checkpoint
from nnrecipe.engine.device import resolve_device
from nnrecipe.engine.loop import evaluate
from nnrecipe.engine.preflight import preflight
from nnrecipe.engine.run_folder import RunLock, check_destinations, mark
from nnrecipe.engine.seeding import seeded
from nnrecipe.errors import UsageError, did_you_mean
from nnrecipe.experiment import Experiment
from nnrecipe.loading import FINAL, choose, save_model
from nnrecipe.progress import Progress
from nnrecipe.results import STAGES, RunResult, Stage, StepResult
from nnrecipe.steps.baseline import Baseline, BaselineError, beats_final, train_baseline
from nnrecipe.steps.checks_step import STEP_DESCRIPTIONS, run_check_step
from nnrecipe.steps.config import TrainingConfig, budget_for
from nnrecipe.steps.error_analysis import analyse
from nnrecipe.steps.journal import Journal
from nnrecipe.steps.overfit import run_overfit
from nnrecipe.steps.regularize import run_regularize
from nnrecipe.steps.squeeze import run_squeeze
from nnrecipe.steps.state import RunState
from nnrecipe.steps.training import selection_metric
from nnrecipe.steps.tune import run_tune

#: the steps `run` walks, in the recipe's order
STEPS: tuple[tuple[Stage, Callable[[RunState], StepResult | None]], ...] = (
    ("data", lambda state: run_check_step(state, "data")),
    ("skeleton", lambda state: run_check_step(state, "skeleton")),
    ("overfit", run_overfit),
    ("regularize", run_regularize),
    ("tune", run_tune),
    ("squeeze", run_squeeze),
)
_TRAINING_STEPS = ("overfit", "regularize", "tune", "squeeze")
_DESCRIPTIONS = {**STEP_DESCRIPTIONS, "tune": "random search around the settled configuration (Optuna)",
                 "squeeze": "ensemble, distillation, training longer"}


def run_pipeline(
    experiment: Experiment,
    *,
    device: str = "auto",
    seed: int | None = None,
    budget: str = "default",
    out_dir: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    until: Stage | None = None,
) -> RunResult:
    """Walk the steps; with `until`, stop after that step (the steps after it are recorded as skipped)."""
    budget_for(budget)  # an unknown budget is a usage error before any work
    if until is not None and until not in STAGES:
        raise UsageError(f"until: expected one of {', '.join(STAGES)}, but got {until!r}{did_you_mean(until, STAGES)}")
    ctx = CheckContext(experiment, device=resolve_device(device), seed=seed, budget=budget)
    ctx.blocked = preflight(experiment, device=ctx.device)
    folder = Path(out_dir) if out_dir is not None else None
    with contextlib.ExitStack() as held:
        if folder is not None:  # one run at a time in a folder, and never over a user's own files
            check_destinations(out_dir=folder, json_path=None)
            held.enter_context(RunLock(folder, command=f"nnrecipe run {experiment.name}"))
            mark(folder)
        return _walk(experiment, ctx, folder, progress=progress, force=force, until=until)


def _walk(experiment: Experiment, ctx: CheckContext, folder: Path | None, *, progress: Progress | None, force: bool,
          until: Stage | None) -> RunResult:
    state = RunState(experiment, ctx, folder, progress or Progress(), force)
    state.journal = _journal(state)
    state.recorders = _training_recorders
    closed_by: StepResult | None = None
    for stage, run_step in STEPS:
        if closed_by is not None:
            _record(state, StepResult(stage, "skip", f"not run: step {closed_by.step} failed "
                                      "(--force goes on past a failed gate)"))
            continue
        if until is not None and STAGES.index(stage) > STAGES.index(until):
            _record(state, StepResult(stage, "skip", f"not run: the run stops after step {until} (--until)"))
            continue
        if stage in _TRAINING_STEPS and state.baseline is None:
            state.baseline = _as_written(state)
        if stage in _TRAINING_STEPS:
            state.progress.step_started(stage, _DESCRIPTIONS[stage])
        started = time.perf_counter()
        step = run_step(state)
        if step is None:
            continue
        scores = _scores(state) if stage in _TRAINING_STEPS and state.model is not None else {}
        if scores:
            state.models[stage] = state.model  # type: ignore[assignment]
        step = dataclasses.replace(step, scores=scores, seconds=time.perf_counter() - started)
        _record(state, step)
        if step.status == "fail" and not force:
            closed_by = step
    _against_baseline(state)
    _look_back(state)
    _save_model(state)
    return _result(state)


def _as_written(state: RunState) -> Baseline | BaselineError:
    """The experiment trained exactly as its spec says: the yardstick every step's gain is read against."""
    state.progress.step_started("as written", "the experiment trained exactly as its spec says")
    try:
        baseline = train_baseline(state)
    except Exception as exc:  # the user's own setup broke: the recipe goes on without its yardstick
        state.progress.note(f"the experiment as written could not be trained: {type(exc).__name__}: {exc}")
        return BaselineError(f"{type(exc).__name__}: {exc}")
    figures = "; ".join(f"{split} " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items())
                        for split, scores in baseline.scores.items())
    state.progress.note(f"as written: {figures} ({baseline.epochs} epochs, {baseline.seconds:.1f} s)")
    return baseline


def _against_baseline(state: RunState) -> None:
    """The setup as written is a candidate too: when the recipe's final model does worse on validation, the
    experiment as written becomes the run's model, and the last training step says so."""
    baseline = state.baseline
    if not isinstance(baseline, Baseline) or state.model is None:
        return
    final = _final_scores(state)
    if not beats_final(baseline, final, state.experiment):
        return
    metric, _ = selection_metric(state.experiment)
    note = (f"the experiment as written did better on validation ({metric} {baseline.scores['val'][metric]:.4g} "
            f"against {final['val'][metric]:.4g}): it is the run's model")
    state.baseline = dataclasses.replace(baseline, chosen=True)
    state.model = baseline.model
    last = _last_trained(state)
    if last is not None:
        step = state.steps[last]
        state.steps[last] = dataclasses.replace(step, summary=f"{step.summary}; {note}")
    state.progress.note(note)
    if state.out_dir is not None and (state.out_dir / FINAL / "final.json").exists():
        import json

        table = json.loads((state.out_dir / FINAL / "final.json").read_text()).get("table", [])
        save_model(state.out_dir, "as-written", members=[(TrainingConfig(), baseline.model)], exp=state.experiment,
                   scores=baseline.scores)
        choose(state.out_dir, "as-written", table=[*table, {"model": "as-written", "note": note, **baseline.scores}])


def _look_back(state: RunState) -> None:
    """After training, the error analysis of the run's model (its numbers go in the last training step's details);
    for the report, the data as the data checks profiled it."""
    from nnrecipe.report.look import DataView

    state.artifacts["look_at_data"] = DataView(state.ctx, vocab=state.experiment.meta.get("vocab"))
    last = _last_trained(state)
    if state.model is None or last is None:
        return
    numbers, artifact = analyse(state.model, state.experiment, device=state.device)
    model = "the experiment as written" if getattr(state.baseline, "chosen", False) else "the run's final model"
    numbers = {"model": model, **numbers}
    artifact["numbers"] = numbers
    state.artifacts["error_analysis"] = artifact
    step = state.steps[last]
    state.steps[last] = dataclasses.replace(step, details={**step.details, "error_analysis": numbers})


def _last_trained(state: RunState) -> int | None:
    """The position of the last step that trained a model (the one whose model the run ended with)."""
    return next((i for i in range(len(state.steps) - 1, -1, -1) if state.steps[i].scores), None)


def _journal(state: RunState) -> Journal:
    journal = Journal(state.out_dir, _fingerprint(state))
    for path in journal.set_aside:
        state.progress.note(f"{path.name.split('.unreadable-')[0]} could not be read; set aside as {path.name}, its "
                            "work is done again")
    if journal.discarded:
        state.progress.note(f"{state.out_dir} held a run with other settings; starting over")
    elif journal.resumed:
        state.progress.note(f"resuming from {state.out_dir}: {len(journal.units)} finished units of work are reused")
    return journal


def _fingerprint(state: RunState) -> dict[str, object]:
    """What must match for a run folder's finished work to be reused: settings, data sizes, the model's code.

    An edited model (its architecture, or its class's source) or other data sizes start the run over, so a
    fixed bug is never hidden behind results saved before the fix.
    """
    import hashlib
    import inspect

    from nnrecipe import __version__

    exp = state.experiment
    with seeded(0):
        model = exp.model()
    try:
        source = inspect.getsource(type(model))
    except (OSError, TypeError):  # classes defined in a REPL have no source to read
        source = ""
    code = hashlib.sha256((repr(model) + source).encode()).hexdigest()[:16]
    return {"experiment": exp.name, "task": exp.task, "seed": state.ctx.seed, "budget": state.ctx.budget,
            "device": state.device.type, "nnrecipe": __version__, "batch_size": exp.batch_size,
            "sizes": [len(exp.train), len(exp.val)], "model": code,
            "knobs": repr((exp.capacity, exp.regularizers))}


def _training_recorders(experiment: Experiment) -> list[object]:
    """The report's recorders, riding along every step-4 training; the kept model's recordings reach the report."""
    from nnrecipe.report.capture import training_recorders

    return list(training_recorders(experiment))


def _record(state: RunState, step: StepResult) -> None:
    state.steps.append(step)
    state.progress.step_done(step)
    if step.status == "fail" and state.force:
        state.progress.note(f"step {step.step} failed; going on because of --force")


def _save_model(state: RunState) -> None:
    path = state.path("model.pt")
    # the experiment as written, when it won, is the experiment's own model: a configuration without knobs
    config = TrainingConfig() if getattr(state.baseline, "chosen", False) else state.config
    if path is not None and state.model is not None and config is not None:
        save_checkpoint(path, model=state.model.state_dict(), config=config.to_dict(),
                        experiment=state.experiment.name)


def _scores(state: RunState) -> dict[str, dict[str, float]]:
    """The current model's validation and test scores; the test split is only scored, it never chooses anything."""
    scores: dict[str, dict[str, float]] = {}
    if state.model is not None:
        exp = state.experiment
        scores["val"] = evaluate(state.model, exp.val, exp, device=state.device)
        if exp.test is not None:
            scores["test"] = evaluate(state.model, exp.test, exp, device=state.device)
    return scores


def _final_scores(state: RunState) -> dict[str, dict[str, float]]:
    """The run's model's scores: those its last training step recorded (not evaluated again), else measured."""
    if isinstance(state.baseline, Baseline) and state.baseline.model is state.model:
        return {split: dict(figures) for split, figures in state.baseline.scores.items()}
    for step in reversed(state.steps):
        if step.scores and state.models.get(step.step) is state.model:
            return {split: dict(figures) for split, figures in step.scores.items()}
    return _scores(state)


def _result(state: RunState) -> RunResult:
    return RunResult(
        experiment=state.experiment.name,
        checks=tuple(state.checks),
        steps=tuple(state.steps),
        scores=_final_scores(state),
        command="run",
        artifacts=state.artifacts,
        baseline=state.baseline.to_dict() if state.baseline is not None else {},
    )
