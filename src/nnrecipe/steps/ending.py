"""The run's yardstick and its end: the experiment as written, trained before the first training step; after the
last step, the final model chosen against it on validation, analysed (error analysis) and saved.

Also the run's fingerprint (what must match for a run folder's finished work to be reused) and the scores each
training step's model gets in the steps table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.checkpoint import save_checkpoint
from nnrecipe.experiment import Experiment
from nnrecipe.results import StepResult
from nnrecipe.seeding import seeded
from nnrecipe.steps.baseline import Baseline, BaselineError, beats_final, train_baseline
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.context import RunContext, Settled
from nnrecipe.steps.error_analysis import analyse
from nnrecipe.steps.final_models import FINAL, choose, save_model
from nnrecipe.steps.training import selection_metric, split_scores

Scores = dict[str, dict[str, float]]


def as_written(run: RunContext) -> Baseline | BaselineError:
    """The experiment trained exactly as its spec says: the yardstick every step's gain is read against."""
    run.progress.step_started("as written", "the experiment trained exactly as its spec says")
    try:
        baseline = train_baseline(run)
    except Exception as exc:  # the user's own setup broke: the recipe goes on without its yardstick
        run.progress.note(f"the experiment as written could not be trained: {type(exc).__name__}: {exc}")
        return BaselineError(f"{type(exc).__name__}: {exc}")
    figures = "; ".join(f"{split} " + ", ".join(f"{k} {v:.4g}" for k, v in split_scores.items())
                        for split, split_scores in baseline.scores.items())
    run.progress.note(f"as written: {figures} ({baseline.epochs} epochs, {baseline.seconds:.1f} s)")
    return baseline


def fingerprint(exp: Experiment, ctx: CheckContext) -> dict[str, object]:
    """What must match for a run folder's finished work to be reused: settings, data sizes, the model's code.

    An edited model (its architecture, or its class's source) or other data sizes start the run over, so a
    fixed bug is never hidden behind results saved before the fix.
    """
    from nnrecipe import __version__

    with seeded(0):
        model = exp.model()
    try:
        source = inspect.getsource(type(model))
    except (OSError, TypeError):  # classes defined in a REPL have no source to read
        source = ""
    code = hashlib.sha256((repr(model) + source).encode()).hexdigest()[:16]
    return {"experiment": exp.name, "task": exp.task, "seed": ctx.seed, "budget": ctx.budget,
            "device": ctx.device.type, "nnrecipe": __version__, "batch_size": exp.batch_size,
            "sizes": [len(exp.train), len(exp.val)], "model": code,
            "knobs": repr((exp.capacity, exp.regularizers))}


def scores(run: RunContext, model: nn.Module) -> Scores:
    """A model's validation and test scores (see `split_scores`)."""
    return split_scores(model, run.experiment, device=run.device)


@dataclass(frozen=True)
class Ended:
    """The run's end: its steps (the last training step's row told what happened at the end), the final model's
    scores, the experiment as written, and the error analysis's pictures."""

    steps: tuple[StepResult, ...]
    scores: Scores
    baseline: Baseline | BaselineError | None
    pictures: Mapping[str, Any] = field(default_factory=dict)


def end_run(run: RunContext, steps: tuple[StepResult, ...], settled: Settled, models: Mapping[str, nn.Module],
            baseline: Baseline | BaselineError | None) -> Ended:
    """Choose the final model (the recipe's, or the experiment as written when that did better on validation),
    analyse its errors, and save it in the run folder."""
    model, config = settled.model, settled.config
    final = _final_scores(run, steps, model, models, baseline)
    if isinstance(baseline, Baseline) and model is not None and beats_final(baseline, final, run.experiment):
        baseline, steps = _as_written_wins(run, baseline, steps, final)
        model, config, final = baseline.model, TrainingConfig(), _copy(baseline.scores)
    steps, pictures = _look_back(run, steps, model, chosen=getattr(baseline, "chosen", False))
    path = run.path("model.pt")
    if path is not None and model is not None and config is not None:
        save_checkpoint(path, model=model.state_dict(), config=config.to_dict(), experiment=run.experiment.name)
    return Ended(steps, final, baseline, pictures)


def _as_written_wins(run: RunContext, baseline: Baseline, steps: tuple[StepResult, ...],
                     final: Scores) -> tuple[Baseline, tuple[StepResult, ...]]:
    """The setup as written is a candidate too: when the recipe's final model does worse on validation, the
    experiment as written becomes the run's model, and the last training step says so."""
    metric, _ = selection_metric(run.experiment)
    note = (f"the experiment as written did better on validation ({metric} {baseline.scores['val'][metric]:.4g} "
            f"against {final['val'][metric]:.4g}): it is the run's model")
    baseline = dataclasses.replace(baseline, chosen=True)
    last = _last_trained(steps)
    if last is not None:
        step = steps[last]
        steps = (*steps[:last], dataclasses.replace(step, summary=f"{step.summary}; {note}"), *steps[last + 1:])
    run.progress.note(note)
    if run.out_dir is not None and (run.out_dir / FINAL / "final.json").exists():
        table = json.loads((run.out_dir / FINAL / "final.json").read_text()).get("table", [])
        # the experiment as written is the experiment's own model: a configuration without knobs
        save_model(run.out_dir, "as-written", members=[(TrainingConfig(), baseline.model)], exp=run.experiment,
                   scores=baseline.scores)
        choose(run.out_dir, "as-written", table=[*table, {"model": "as-written", "note": note, **baseline.scores}])
    return baseline, steps


def _look_back(run: RunContext, steps: tuple[StepResult, ...], model: nn.Module | None, *,
               chosen: bool) -> tuple[tuple[StepResult, ...], dict[str, Any]]:
    """After training, the error analysis of the run's model: its numbers go in the last training step's
    details, its material to the report."""
    last = _last_trained(steps)
    if model is None or last is None:
        return steps, {}
    numbers, material = analyse(model, run.experiment, device=run.device)
    numbers = {"model": "the experiment as written" if chosen else "the run's final model", **numbers}
    step = steps[last]
    step = dataclasses.replace(step, details={**step.details, "error_analysis": numbers})
    return (*steps[:last], step, *steps[last + 1:]), {"error_analysis": {**material, "numbers": numbers}}


def _last_trained(steps: tuple[StepResult, ...]) -> int | None:
    """The position of the last step that trained a model (the one whose model the run ended with)."""
    return next((i for i in range(len(steps) - 1, -1, -1) if steps[i].scores), None)


def _final_scores(run: RunContext, steps: tuple[StepResult, ...], model: nn.Module | None,
                  models: Mapping[str, nn.Module], baseline: Baseline | BaselineError | None) -> Scores:
    """The run's model's scores: those its last training step recorded (not evaluated again), else measured."""
    if model is None:
        return {}
    if isinstance(baseline, Baseline) and baseline.model is model:
        return _copy(baseline.scores)
    for step in reversed(steps):
        if step.scores and models.get(step.step) is model:
            return _copy(step.scores)
    return scores(run, model)


def _copy(figures: Mapping[str, Mapping[str, float]]) -> Scores:
    return {split: dict(values) for split, values in figures.items()}
