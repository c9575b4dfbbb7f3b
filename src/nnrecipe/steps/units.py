"""A unit of work: one training from a config, done once per run folder (a rerun reads it from the journal)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from nnrecipe.engine.loop import Callback
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.context import RunContext
from nnrecipe.steps.training import FitTest, build_model, train_config


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

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "config": self.config.to_dict(), "val": self.val, "best_epoch": self.best_epoch,
                "epochs_run": self.epochs_run, "train": self.train, "stopped_early": self.stopped_early,
                "records": self.records}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnitResult:
        return cls(key=data["key"], config=TrainingConfig.from_dict(data["config"]), val=data["val"],
                   best_epoch=data["best_epoch"], epochs_run=data["epochs_run"], train=data["train"],
                   stopped_early=data["stopped_early"], records=data["records"])


def run_unit(
    run: RunContext,
    key: str,
    cfg: TrainingConfig,
    *,
    label: str,
    train: Any = None,
    fit_test: FitTest | None = None,
    recorders: Sequence[Any] = (),
) -> UnitResult:
    """Train `cfg` once: a finished unit comes back from the journal; a killed one resumes from its last epoch.

    `recorders` are report callbacks with a `key` and a `record()`; what they record is kept with the unit.
    """
    done = run.journal.done(key)
    if done is not None:
        return UnitResult.from_dict(done)
    callbacks: list[Callback] = list(recorders)
    shown = run.progress.training(label, cfg.epochs)
    if shown is not None:
        callbacks.append(shown)
    trained = train_config(run.experiment, cfg, device=run.device, seed=run.ctx.derive("train"), train=train,
                           fit_test=fit_test, callbacks=callbacks, checkpoint=run.journal.partial(key))
    result = UnitResult(key=key, config=cfg, val=trained.val, best_epoch=trained.best_epoch,
                        epochs_run=trained.epochs_run, train=trained.train, stopped_early=trained.stopped_early,
                        records=trained.records)
    extras = {r.key: r.record() for r in recorders if getattr(r, "key", None)}
    extras["final_history"] = trained.history  # the report's loss curves, should this unit be the final model
    run.journal.finish(key, result.to_dict(), model_state=trained.model.state_dict(),
                         extras={k: v for k, v in extras.items() if v is not None})
    return result


def load_unit(run: RunContext, unit: UnitResult) -> tuple[nn.Module, dict[str, Any]]:
    """The kept model of a finished unit, rebuilt from its config, and what its recorders recorded."""
    saved = run.journal.saved(unit.key)
    model = build_model(run.experiment, unit.config, device=run.device, seed=run.ctx.derive("train"))
    model.load_state_dict(saved["model"])
    return model, dict(saved.get("extras") or {})
