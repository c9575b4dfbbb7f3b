"""A unit of work: one training from a config, done once per run folder (a rerun reads it from the journal).

A unit is trained here, or, in a run with worker processes, by a worker (`UnitJob`, `train_job`), in which case
the step's `RunContext.units` hands the results back (see `steps.speculation`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from torch import nn
from torch.utils.data import Subset

from nnrecipe.engine.checkpoint import UnreadableFile, atomic_write_bytes, from_bytes, load_checkpoint, to_bytes
from nnrecipe.engine.loop import Callback
from nnrecipe.experiment import Experiment
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.context import RunContext
from nnrecipe.steps.distill import Teacher, taught
from nnrecipe.steps.training import FitTest, Trained, build_model, train_config


@dataclass(frozen=True)
class UnitResult:
    """What one training measured: validation scores of the kept weights, training scores when step 3 asked."""

    key: str
    config: TrainingConfig
    val: dict[str, float]
    best_epoch: int | None
    epochs_run: int
    train: dict[str, float] | None = None
    stopped_early: bool = False
    records: list[dict[str, Any]] = field(default_factory=list, compare=False)
    #: the seed it trained with (None: the run's training seed)
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "config": self.config.to_dict(), "val": self.val, "best_epoch": self.best_epoch,
                "epochs_run": self.epochs_run, "train": self.train, "stopped_early": self.stopped_early,
                "records": self.records, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitResult:
        return cls(key=data["key"], config=TrainingConfig.from_dict(data["config"]), val=data["val"],
                   best_epoch=data["best_epoch"], epochs_run=data["epochs_run"], train=data.get("train"),
                   stopped_early=data.get("stopped_early", False), records=data.get("records", []),
                   seed=data.get("seed"))


@dataclass(frozen=True)
class UnitRequest:
    """One unit a step asks for: its key, configuration and seed, and on which data (None: all of train)."""

    key: str
    config: TrainingConfig
    seed: int
    label: str
    #: indices into the experiment's training set (the learning curve's subsets)
    subset: tuple[int, ...] | None = None
    #: whether the report's recorders ride along
    record: bool = False
    #: the ensemble a distilled model learns from (None: plain training)
    teacher: Teacher | None = field(default=None, compare=False, repr=False)

    @property
    def variant(self) -> str:
        """The key and the configuration: a unit asked for under one key with another config is another unit."""
        return f"{self.key}@{config_digest(self.config)}"


class UnitSource(Protocol):
    """Where a step's units come from when worker processes train them (see `steps.speculation`)."""

    def unit(self, request: UnitRequest) -> UnitResult: ...


def config_digest(cfg: TrainingConfig) -> str:
    return hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True, default=repr).encode()).hexdigest()[:10]


def run_unit(
    run: RunContext,
    key: str,
    cfg: TrainingConfig,
    *,
    label: str,
    train: Any = None,
    fit_test: FitTest | None = None,
    recorders: Sequence[Any] = (),
    seed: int | None = None,
    teacher: Teacher | None = None,
) -> UnitResult:
    """Train `cfg` once: a finished unit comes back from the journal; a killed one resumes from its last epoch.

    `recorders` are report callbacks with a `key` and a `record()`; what they record is kept with the unit.
    `seed` defaults to the run's training seed; with a `teacher`, the model is distilled from it.
    """
    request = UnitRequest(key, cfg, run.ctx.derive("train") if seed is None else seed, label,
                          subset=_subset_of(run.experiment, train), record=bool(recorders), teacher=teacher)
    done = journaled(run, request)
    if done is not None:
        return done
    if run.units is not None:
        # a fit test is a closure of step 3's thresholds: step 3 trains in this process, never ahead
        assert fit_test is None, "units with a fit test cannot be trained by workers"
        return run.units.unit(request)
    partial = run.journal.partial(request.variant)
    unit = TrainedUnit.left_at(partial, request)  # a worker finished it before its run was killed, or its pool broke
    if unit is None:
        callbacks: list[Callback] = list(recorders)
        shown = run.progress.training(label, cfg.epochs)
        if shown is not None:
            callbacks.append(shown)
        exp = run.experiment if teacher is None else taught(run.experiment, teacher, run.device)
        trained = train_config(exp, cfg, device=run.device, seed=request.seed, train=train,
                               fit_test=fit_test, callbacks=callbacks, checkpoint=partial)
        unit = TrainedUnit.of(request, trained, recorders)
    finish_unit(run, request, unit.result, unit.model_state, unit.extras)
    return unit.result


def journaled(run: RunContext, request: UnitRequest) -> UnitResult | None:
    """A finished unit of this key and configuration from the journal (one of another configuration is not it)."""
    done = run.journal.done(request.key)
    if done is None or not _same_config(done["config"], request.config):
        return None
    return UnitResult.from_dict(done)


def finish_unit(run: RunContext, request: UnitRequest, result: UnitResult, model_state: dict[str, Any],
                extras: dict[str, Any]) -> None:
    run.journal.finish(request.key, result.to_dict(), model_state=model_state,
                       extras={k: v for k, v in extras.items() if v is not None})
    partial = run.journal.partial(request.variant)
    if partial is not None:
        partial.unlink(missing_ok=True)
        handed_back(partial).unlink(missing_ok=True)


def handed_back(checkpoint: Path) -> Path:
    """Where a worker leaves a unit it finished, beside the unit's checkpoint, until a step uses it (a step may
    use it minutes later: a run killed, or a pool broken, in between finds it there)."""
    return checkpoint.with_name(checkpoint.name + ".done")


def load_unit(run: RunContext, unit: UnitResult) -> tuple[nn.Module, dict[str, Any]]:
    """The kept model of a finished unit, rebuilt from its config, and what its recorders recorded."""
    saved = run.journal.saved(unit.key)
    seed = run.ctx.derive("train") if unit.seed is None else unit.seed
    model = build_model(run.experiment, unit.config, device=run.device, seed=seed)
    model.load_state_dict(saved["model"])
    return model, dict(saved.get("extras") or {})


def _same_config(saved: dict[str, Any], cfg: TrainingConfig) -> bool:
    """A saved configuration against a config, as JSON stores them (tuples become lists, say)."""
    return _normalized(saved) == _normalized(cfg.to_dict())


def _normalized(config: dict[str, Any]) -> Any:
    return json.loads(json.dumps(config, sort_keys=True, default=repr))


def _subset_of(exp: Experiment, train: Any) -> tuple[int, ...] | None:
    if train is None:
        return None
    if isinstance(train, Subset) and train.dataset is exp.train:
        return tuple(int(i) for i in train.indices)
    raise TypeError("a unit trains on the experiment's training set or a Subset of it")


# -- in a worker process


@dataclass(frozen=True)
class UnitJob:
    """A unit for a worker process (picklable): the request, and where it checkpoints every epoch."""

    request: UnitRequest
    checkpoint: str | None

    @property
    def stop_flag(self) -> Path | None:
        """A file whose presence asks the worker to stop this unit at its next epoch (a guess proved wrong)."""
        return None if self.checkpoint is None else Path(self.checkpoint + ".stop")


@dataclass(frozen=True)
class TrainedUnit:
    """What a worker hands back: the unit's result, its kept weights and what its recorders recorded."""

    result: UnitResult
    model_state: dict[str, Any]
    extras: dict[str, Any]

    @classmethod
    def of(cls, request: UnitRequest, trained: Trained, recorders: Sequence[Any]) -> TrainedUnit:
        result = UnitResult(key=request.key, config=request.config, val=trained.val, best_epoch=trained.best_epoch,
                            epochs_run=trained.epochs_run, train=trained.train, stopped_early=trained.stopped_early,
                            records=trained.records, seed=request.seed)
        extras = {r.key: r.record() for r in recorders if getattr(r, "key", None)}
        extras["final_history"] = trained.history  # the report's loss curves, should this unit be the final model
        return cls(result, trained.model.state_dict(), extras)

    @classmethod
    def left_at(cls, checkpoint: Path | None, request: UnitRequest) -> TrainedUnit | None:
        """`request`'s unit as a worker finished it and left it beside `checkpoint`, if it did (a file that
        cannot be read, or holds another seed or configuration, is not it: the unit is trained again)."""
        if checkpoint is None or not handed_back(checkpoint).exists():
            return None
        try:
            unit = cls._of_saved(load_checkpoint(handed_back(checkpoint)))
        except (UnreadableFile, KeyError, TypeError):
            return None
        same = _same_config(unit.result.config.to_dict(), request.config) and unit.result.seed == request.seed
        return unit if same else None

    def packed(self) -> bytes:
        """As one blob, what a worker sends and leaves beside the unit's checkpoint (a checkpoint's format)."""
        return to_bytes({"result": self.result.to_dict(), "model": self.model_state, "extras": self.extras})

    @classmethod
    def unpacked(cls, blob: bytes) -> TrainedUnit:
        return cls._of_saved(from_bytes(blob))

    @classmethod
    def _of_saved(cls, saved: dict[str, Any]) -> TrainedUnit:
        return cls(UnitResult.from_dict(saved["result"]), saved["model"], saved.get("extras") or {})


class _Stopped(Exception):
    """The parent asked for this unit to stop (see `UnitJob.stop_flag`)."""


class _StopWhenAsked(Callback):
    def __init__(self, flag: Path | None) -> None:
        self.flag = flag

    def on_epoch_end(self, record: Any, model: nn.Module) -> bool:
        # after the tracker's checkpoint of this epoch: a later request for the same unit resumes from it
        if self.flag is not None and self.flag.exists():
            raise _Stopped
        return False


def train_job(job: UnitJob) -> bytes | None:
    """A worker process's training of one unit (module level: spawned workers find it by name): the packed
    `TrainedUnit`, or None when the parent asked it to stop."""
    from nnrecipe.engine.observe import training_recorders
    from nnrecipe.steps.pool import worker_state

    state = worker_state()
    exp, request = state.experiment, job.request
    if request.teacher is not None:
        exp = taught(exp, request.teacher, state.device)
    train = None if request.subset is None else Subset(exp.train, list(request.subset))
    recorders = list(training_recorders(exp)) if request.record else []
    try:
        trained = train_config(exp, request.config, device=state.device, seed=request.seed, train=train,
                               callbacks=[*recorders, _StopWhenAsked(job.stop_flag)],
                               checkpoint=Path(job.checkpoint) if job.checkpoint else None)
    except _Stopped:
        return None
    blob = TrainedUnit.of(request, trained, recorders).packed()
    if job.checkpoint is not None:  # serialized once: the same bytes wait in the run folder and go to the parent
        atomic_write_bytes(handed_back(Path(job.checkpoint)), blob)
    return blob
