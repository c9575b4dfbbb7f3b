"""One trial: the objective that trains a trial's configuration, reports its validation score every epoch for
the pruner, and keeps the trial's best weights (in the study's folder, or in memory)."""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import torch

from nnrecipe.engine.checkpoint import UnreadableFile, load_checkpoint, save_checkpoint, set_aside
from nnrecipe.engine.loop import Callback, EpochRecord
from nnrecipe.experiment import Experiment
from nnrecipe.progress import Progress
from nnrecipe.seeding import derive_seed
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.training import train_config
from nnrecipe.steps.tune.space import Param, StudyDefinition, trial_config


class _ReportToTrial(Callback):
    """Reports the validation score every epoch; stops training when the pruner says the trial is hopeless."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric = trial, metric
        self.pruned_at: int | None = None
        self.diverged = False

    def on_epoch_end(self, record: EpochRecord, model: torch.nn.Module) -> bool:
        value = record.val.get(self.metric, math.nan)
        if not math.isfinite(value) or not math.isfinite(record.train_loss):
            self.diverged = True
            return True
        self.trial.report(value, record.epoch)
        if self.trial.should_prune():
            self.pruned_at = record.epoch
            return True
        return False

    def raise_if_stopped(self) -> None:
        """Ends the trial as pruned, with a note why, when training stopped early (diverged or pruned)."""
        if self.diverged:
            self.trial.set_user_attr("note", "diverged")
            raise optuna.TrialPruned("diverged")
        if self.pruned_at is not None:
            self.trial.set_user_attr("note", f"pruned at epoch {self.pruned_at}")
            raise optuna.TrialPruned(f"pruned at epoch {self.pruned_at}")


@dataclass
class TrialRunner:
    """The objective: trains one trial's configuration and keeps the trial's best weights.

    With a `folder` (the study's own folder in the run folder), every completed trial's weights, config and
    seed go to `trial-NNNN.pt` and the trial in progress checkpoints every epoch, so a trial taken over after
    a crash continues from its last epoch; without one, the weights stay in `in_memory`.
    """

    exp: Experiment
    definition: StudyDefinition
    epochs: int
    device: torch.device
    folder: Path | None
    progress: Progress = field(default_factory=Progress)
    in_memory: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __call__(self, trial: optuna.Trial) -> float:
        d = self.definition
        params = {p.name: _suggest(trial, p) for p in d.space}
        cfg = trial_config(d.base, params).replace(epochs=min(d.base.epochs, self.epochs))
        seed = self._start(trial, cfg)
        reporter = _ReportToTrial(trial, d.metric)
        callbacks = self._callbacks(trial, cfg, reporter)
        partial = None if self.folder is None else self.folder / f"partial-{trial.number:04d}.pt"
        trained = train_config(self.exp, cfg, device=self.device, seed=seed, callbacks=callbacks, checkpoint=partial)
        trial.set_user_attr("epochs_run", trained.epochs_run)
        reporter.raise_if_stopped()
        trial.set_user_attr("best_epoch", trained.best_epoch)
        trial.set_user_attr("val", trained.val)
        self._keep(trial.number, cfg, seed, trained.model.state_dict())
        if partial is not None:
            partial.unlink(missing_ok=True)
        return float(trained.val[d.metric])

    def _start(self, trial: optuna.Trial, cfg: TrainingConfig) -> int:
        """The trial's seed, recorded with its configuration and worker."""
        # a trial queued again after its worker died inherits its user attributes, so it replays the same seed
        seed = int(trial.user_attrs.get("seed", derive_seed(self.definition.seed, "trial", trial.number)))
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("config", cfg.to_dict())
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        return seed

    def _callbacks(self, trial: optuna.Trial, cfg: TrainingConfig, reporter: _ReportToTrial) -> list[Callback]:
        callbacks: list[Callback] = [reporter]
        shown = self.progress.training(f"trial {trial.number}: {cfg.describe()}", cfg.epochs)
        if shown is not None:
            callbacks.append(shown)
        return callbacks

    def _keep(self, number: int, cfg: TrainingConfig, seed: int, state_dict: dict[str, Any]) -> None:
        saved = {"config": cfg.to_dict(), "seed": seed, "model": state_dict}
        if self.folder is None:
            self.in_memory[number] = saved
        else:
            save_checkpoint(self.folder / f"trial-{number:04d}.pt", **saved)


def _suggest(trial: optuna.Trial, p: Param) -> Any:
    if p.kind == "choice":
        return trial.suggest_categorical(p.name, list(p.choices))
    return trial.suggest_float(p.name, p.low, p.high, log=p.kind == "log")


def study_folder(run_folder: Path | None, study: str) -> Path | None:
    """Where a study's trials keep their weights inside a run folder (one folder per study)."""
    return None if run_folder is None else run_folder / "tune" / study


def saved_trial(folder: Path | None, number: int, in_memory: Mapping[int, Any] | None = None) -> dict[str, Any] | None:
    """A completed trial's kept weights, config and seed, when this machine has them."""
    if in_memory is not None and number in in_memory:
        return dict(in_memory[number])
    if folder is None:
        return None
    path = folder / f"trial-{number:04d}.pt"
    if not path.exists():
        return None
    try:
        return load_checkpoint(path)
    except UnreadableFile:
        set_aside(path)  # never loaded: this machine no longer has the trial's weights
        return None
