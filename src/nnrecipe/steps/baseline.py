"""The experiment as written: trained exactly as its spec says, before the recipe changes anything (CONTRACT §5).

Its model with the factory's defaults, its own optimizer, scheduler, batch size, epochs, augmentation and
`train_step`; nothing of nnrecipe's. `nnrecipe run` trains it once, scores it on validation and test, and keeps
it as a candidate the recipe's final model must beat on validation: when the recipe ends worse, the setup as
written is the run's model and the report says so. Like every unit of work it is journaled in the run folder:
checkpointed after every epoch, resumed where it stopped, never trained twice.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnrecipe.engine.checkpoint import UnreadableFile, load_checkpoint, save_checkpoint, set_aside
from nnrecipe.engine.data import make_optimizer
from nnrecipe.engine.loop import Callback, EpochRecord, Optimization, fit
from nnrecipe.experiment import Experiment
from nnrecipe.seeding import seeded
from nnrecipe.steps.context import RunContext
from nnrecipe.steps.training import is_better, selection_metric, split_scores

KEY = "baseline/as-written"


@dataclass(frozen=True)
class Baseline:
    """The experiment trained as written: its wall time, its scores per split, and the trained model."""

    seconds: float
    scores: dict[str, dict[str, float]]
    epochs: int
    model: nn.Module = field(compare=False, repr=False)
    #: set when the recipe's final model did worse on validation and this one became the run's model
    chosen: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seconds": round(self.seconds, 3), "scores": self.scores, "epochs": self.epochs}
        if self.chosen:
            out["chosen"] = True
        return out


@dataclass(frozen=True)
class BaselineError:
    """The experiment as written could not be trained (its own optimizer or train_step raised): why."""

    error: str
    chosen: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.error}


def train_baseline(run: RunContext) -> Baseline:
    """Train the experiment as written (or read it back from the run folder's journal)."""
    exp = run.experiment
    with seeded(run.ctx.derive("baseline", "model")):
        model = exp.model().to(run.device)
    done = run.journal.done(KEY)
    if done is not None:
        model.load_state_dict(run.journal.saved(KEY)["model"])
        return Baseline(seconds=done["seconds"], scores=done["scores"], epochs=done["epochs"], model=model)
    optimizer = make_optimizer(exp, model.parameters())
    scheduler = exp.scheduler(optimizer) if exp.scheduler is not None else None
    keeper = _EveryEpoch(run.journal.partial(KEY), optimizer, scheduler)
    start = keeper.restore(model)
    callbacks: list[Callback] = [keeper]
    shown = run.progress.training(f"as written: {exp.epochs} epochs, the experiment's optimizer", exp.epochs)
    if shown is not None:
        callbacks.append(shown)
    if start < exp.epochs:
        # evaluation only at the end: the experiment as written is trained, not watched (no evaluate_on)
        fit(model, exp, device=run.device, seed=run.ctx.derive("baseline"),
            optimization=Optimization(optimizer, scheduler), start_epoch=start, callbacks=callbacks)
    scores = split_scores(model, exp, device=run.device)
    result = {"key": KEY, "seconds": keeper.seconds, "scores": scores, "epochs": keeper.epochs}
    run.journal.finish(KEY, result, model_state=model.state_dict())
    return Baseline(seconds=keeper.seconds, scores=scores, epochs=keeper.epochs, model=model)


def beats_final(baseline: Baseline, final: dict[str, dict[str, float]], exp: Experiment) -> bool:
    """Whether the experiment as written did better on validation than the recipe's final model."""
    metric, higher = selection_metric(exp)
    mine, theirs = baseline.scores.get("val", {}).get(metric, math.nan), final.get("val", {}).get(metric, math.nan)
    return math.isfinite(mine) and is_better(mine, theirs, higher_is_better=higher)


class _EveryEpoch(Callback):
    """Checkpoints the model, the experiment's optimizer and scheduler after every epoch, and the time spent."""

    def __init__(self, path: Path | None, optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
        self.path, self.optimizer, self.scheduler = path, optimizer, scheduler
        self.seconds = 0.0
        self.epochs = 0
        self._started = time.perf_counter()

    def restore(self, model: nn.Module) -> int:
        """Load the last saved epoch, if any; the epoch to start from."""
        self._started = time.perf_counter()
        if self.path is None or not self.path.exists():
            return 0
        try:
            saved = load_checkpoint(self.path, map_location=next(model.parameters(), torch.empty(0)).device)
            model.load_state_dict(saved["model"])
            self.optimizer.load_state_dict(saved["optimizer"])
            if self.scheduler is not None and saved["scheduler"] is not None:
                self.scheduler.load_state_dict(saved["scheduler"])
        except (UnreadableFile, KeyError, RuntimeError, ValueError):  # unreadable, or the user's scheduler changed
            set_aside(self.path)
            return 0
        self.seconds, self.epochs = float(saved["seconds"]), int(saved["epoch"]) + 1
        return self.epochs

    def on_epoch_end(self, record: EpochRecord, model: nn.Module) -> bool:
        now = time.perf_counter()
        self.seconds += now - self._started
        self._started = now
        self.epochs = record.epoch + 1
        if self.path is not None:
            save_checkpoint(self.path, epoch=record.epoch, seconds=self.seconds, model=model.state_dict(),
                            optimizer=self.optimizer.state_dict(),
                            scheduler=self.scheduler.state_dict() if self.scheduler is not None else None)
        return False
