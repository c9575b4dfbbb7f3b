"""`nnrecipe run`: the recipe's steps in order, each behind its gate, then the final scores.

A step that fails closes the gate: the steps after it are recorded as skipped with the reason, unless
`force` is set, in which case the run goes on and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.checkpoint import save_checkpoint
from nnrecipe.engine.device import resolve_device
from nnrecipe.engine.loop import Callback, EpochRecord, evaluate, fit
from nnrecipe.experiment import Experiment
from nnrecipe.progress import Progress
from nnrecipe.results import RunResult, StepResult
from nnrecipe.steps.checks_step import run_check_step
from nnrecipe.steps.state import RunState


def run_pipeline(
    experiment: Experiment,
    *,
    device: str = "auto",
    seed: int | None = None,
    budget: str = "default",
    out_dir: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    ctx = CheckContext(experiment, device=resolve_device(device), seed=seed, budget=budget)
    state = RunState(experiment, ctx, Path(out_dir) if out_dir is not None else None, progress or Progress(), force)
    for stage in ("data", "skeleton"):
        step = run_check_step(state, stage)  # type: ignore[arg-type]
        if step is None:
            continue
        _record(state, step)
        if step.status == "fail" and not force:
            return _result(state)
    train_final(state)
    return _result(state)


def _record(state: RunState, step: StepResult) -> None:
    state.steps.append(step)
    state.progress.step_done(step)
    if step.status == "fail" and state.force:
        state.progress.note(f"step {step.step} failed; going on because of --force")


def train_final(state: RunState) -> None:
    """Train the experiment's model for its planned epochs, keeping the best validation checkpoint."""
    exp = state.experiment
    model = state.ctx.fresh_model("final")
    best = _BestCheckpoint(higher_is_better=exp.task != "regression")
    callbacks: list[Callback] = [best]
    shown = state.progress.training("final training", exp.epochs)
    if shown is not None:
        callbacks.append(shown)
    history = fit(model, exp, device=state.device, seed=state.ctx.derive("final"), callbacks=callbacks)
    if best.state_dict is not None:
        model.load_state_dict(best.state_dict)
    state.model = model
    state.artifacts["final_history"] = history
    path = state.path("model.pt")
    if path is not None:
        save_checkpoint(path, model=model.state_dict(), experiment=exp.name, epoch=best.epoch)


class _BestCheckpoint(Callback):
    """Early-stopping bookkeeping: remember the weights of the best epoch on the full validation set."""

    def __init__(self, *, higher_is_better: bool) -> None:
        self.metric = "accuracy" if higher_is_better else "loss"
        self.higher_is_better = higher_is_better
        self.best: float | None = None
        self.epoch: int | None = None
        self.state_dict: dict[str, Any] | None = None

    def on_epoch_end(self, record: EpochRecord, model: nn.Module) -> bool:
        value = record.val.get(self.metric)
        if value is None:
            return False
        better = self.best is None or (value > self.best if self.higher_is_better else value < self.best)
        if better:
            self.best, self.epoch = value, record.epoch
            self.state_dict = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return False


def _result(state: RunState) -> RunResult:
    scores = {}
    if state.model is not None:
        exp = state.experiment
        scores["val"] = evaluate(state.model, exp.val, exp, device=state.device)
        if exp.test is not None:
            scores["test"] = evaluate(state.model, exp.test, exp, device=state.device)
    return RunResult(
        experiment=state.experiment.name,
        checks=tuple(state.checks),
        steps=tuple(state.steps),
        scores=scores,
        command="run",
        artifacts=state.artifacts,
    )
