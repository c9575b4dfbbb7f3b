"""Train a model from a `TrainingConfig`, checkpointing every epoch so that a killed training resumes exactly.

`train_config` is the one way steps 3 and 4 (and later tuning and ensembling) train: AdamW (plain Adam when
weight decay is 0) at the config's learning rate, constant or one-cycle, the experiment's augmentation when the
config asks for it; at constant lr the best epoch on the full validation set is kept (early stopping), a
one-cycle schedule is trained to its end and its last epoch kept. With a `checkpoint`
path, the model, optimizer, scheduler and bookkeeping are saved atomically after every epoch, and a later call
with the same arguments continues after the last saved epoch; since `fit` derives each epoch's randomness from
(seed, epoch), the resumed training ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nnrecipe import knobs
from nnrecipe.engine.checkpoint import UnreadableFile, load_checkpoint, save_checkpoint, set_aside
from nnrecipe.engine.data import Batch, LossFn
from nnrecipe.engine.loop import Callback, EpochRecord, History, Optimization, evaluate, fit, standard_step
from nnrecipe.engine.targets import ignore_index
from nnrecipe.errors import UsageError
from nnrecipe.experiment import Experiment
from nnrecipe.seeding import derive_seed, seeded
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.resolution import KINDS as RESOLUTION_KINDS
from nnrecipe.steps.resolution import ReducedResolution, resolution_applies

#: decides from the training-set and validation scores whether the training set is fit (step 3 stops there)
FitTest = Callable[[dict[str, float], dict[str, float]], bool]


def selection_metric(exp: Experiment) -> tuple[str, bool]:
    """The validation figure models are chosen by, and whether higher is better."""
    return ("loss", False) if exp.task == "regression" else ("accuracy", True)


def split_scores(model: nn.Module, exp: Experiment, *, device: torch.device) -> dict[str, dict[str, float]]:
    """A model's validation scores and, when the experiment has a test split, its test scores: the test split is
    only scored for the tables, it never chooses anything."""
    scores = {"val": evaluate(model, exp.val, exp, device=device)}
    if exp.test is not None:
        scores["test"] = evaluate(model, exp.test, exp, device=device)
    return scores


def is_better(value: float, best: float | None, *, higher_is_better: bool) -> bool:
    if best is None or not math.isfinite(best):
        return math.isfinite(value)
    return value > best if higher_is_better else value < best


def model_factory(exp: Experiment, cfg: TrainingConfig) -> Callable[[], nn.Module]:
    """The architecture a config describes: the experiment's own `model` factory called with the config's knobs,
    fed its inputs at the config's resolution."""
    factory = _architecture(exp, cfg)
    if cfg.resolution >= 1.0:
        return factory
    if not resolution_applies(exp):
        raise UsageError(f"config {cfg.describe()!r} reduces the input resolution, which needs signal or image "
                         f"inputs (kind in {RESOLUTION_KINDS}), but this experiment's kind is "
                         f"{exp.kind!r}")
    factor, kind = max(1, round(1 / cfg.resolution)), str(exp.kind)
    return lambda: ReducedResolution(factory(), factor, kind=kind)


def _architecture(exp: Experiment, cfg: TrainingConfig) -> Callable[[], nn.Module]:
    if not cfg.knobs:
        return exp.model
    declared = {k.name for k in knobs.declared(exp)}
    unknown = [name for name in cfg.knobs if name not in declared]
    if unknown:
        raise UsageError(f"config {cfg.describe()!r} sets {', '.join(map(repr, unknown))}, which the experiment does "
                         f"not declare in capacity or regularizers (declared: {', '.join(sorted(declared)) or 'none'})")
    return functools.partial(exp.model, **cfg.knobs)


def has_augmentation(exp: Experiment) -> bool:
    return exp.augment is not None or exp.batch_augment is not None


def build_model(exp: Experiment, cfg: TrainingConfig, *, device: torch.device, seed: int) -> nn.Module:
    with seeded(derive_seed(seed, "model")):
        model = model_factory(exp, cfg)()
    return model.to(device).train()


def build_optimizer(model: nn.Module, cfg: TrainingConfig, *, steps_per_epoch: int) -> tuple[torch.optim.Optimizer, Any]:
    # AdamW with weight_decay=0 is exactly Adam: the recipe's safe default at 3e-4.
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.schedule == "constant":
        return opt, None
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    return opt, sched


@dataclass
class Trained:
    """A finished training: the kept weights (best validation epoch, or the last when fitting the training set)."""

    model: nn.Module
    val: dict[str, float]
    best_epoch: int | None
    epochs_run: int
    records: list[dict[str, Any]] = field(default_factory=list)
    train: dict[str, float] | None = None
    stopped_early: bool = False
    #: every step's loss and learning rate and every epoch's record, across resumes (the report draws it)
    history: History = field(default_factory=History)


def train_config(
    exp: Experiment,
    cfg: TrainingConfig,
    *,
    device: torch.device,
    seed: int,
    train: Any = None,
    fit_test: FitTest | None = None,
    callbacks: Sequence[Callback] = (),
    checkpoint: Path | None = None,
) -> Trained:
    """Train per `cfg` on `train` (default: the experiment's training set).

    Evaluates on the full validation set every epoch. Without `fit_test`: keep the best epoch, stop after
    `cfg.patience` epochs without improvement. With `fit_test` (step 3): evaluate the training set every epoch
    too, stop once it is fit, and keep the last weights.
    """
    train = exp.train if train is None else train
    model = build_model(exp, cfg, device=device, seed=seed)
    opt, sched = build_optimizer(model, cfg, steps_per_epoch=-(-len(train) // cfg.batch_size))
    tracker = _Tracker(exp, cfg, device=device, train=train if fit_test else None, fit_test=fit_test,
                       optimizer=opt, scheduler=sched, checkpoint=checkpoint)
    start_epoch = tracker.restore(model)
    if not tracker.finished and start_epoch < cfg.epochs:
        # fit steps a scheduler per its experiment's interval; the one-cycle schedule counts steps
        run_exp = exp.replace(scheduler_interval="step") if sched is not None and exp.scheduler_interval != "step" else exp
        per_sample, batch_augment = _augmentation(exp, cfg)
        step = standard_step(smoothed_loss(exp, cfg.label_smoothing)) if cfg.label_smoothing else None
        fit(model, run_exp, device=device, evaluate_on=run_exp.val, epochs=cfg.epochs, train=train, seed=seed,
            optimization=Optimization(opt, sched), augment=per_sample, batch_size=cfg.batch_size,
            batch_augment=batch_augment, train_step=step, callbacks=[tracker, *callbacks], start_epoch=start_epoch)
    return tracker.result(model)


def label_smoothing_applies(exp: Experiment) -> str | None:
    """None when the experiment trains with the standard cross-entropy that label smoothing changes, else why not."""
    if exp.task == "regression":
        return "regression has no class labels to smooth"
    if exp.loss is not None or exp.train_step is not None:
        return "the experiment brings its own loss or train_step, which nnrecipe does not rewrite"
    return None


def smoothed_loss(exp: Experiment, share: float) -> LossFn:
    """The standard cross-entropy of the experiment's task with `share` of each target spread over all classes."""
    why_not = label_smoothing_applies(exp)
    if why_not is not None:
        raise UsageError(f"label smoothing {share:g} does not apply: {why_not}")
    ignore = ignore_index(exp)
    skip = -100 if ignore is None else ignore  # cross_entropy's own default
    if exp.task == "sequence":
        return lambda out, y: F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), label_smoothing=share,
                                              ignore_index=skip)
    return lambda out, y: F.cross_entropy(out, y, label_smoothing=share, ignore_index=skip)


def _augmentation(exp: Experiment, cfg: TrainingConfig) -> tuple[bool, Any]:
    """(use the per-sample `augment`, the batch augmentation): the user's own first, else the built-in's."""
    if not cfg.augment:
        return False, None
    if exp.augment is not None:
        return True, None
    return False, exp.batch_augment


class _Tracker(Callback):
    """Per-epoch bookkeeping: best epoch, early stopping, the fit test, and the checkpoint that makes it resumable."""

    def __init__(self, exp: Experiment, cfg: TrainingConfig, *, device: torch.device, train: Any,
                 fit_test: FitTest | None, optimizer: torch.optim.Optimizer, scheduler: Any,
                 checkpoint: Path | None) -> None:
        self.exp, self.cfg, self.device, self.train, self.fit_test = exp, cfg, device, train, fit_test
        self.optimizer, self.scheduler, self.checkpoint = optimizer, scheduler, checkpoint
        self.metric, self.higher_is_better = selection_metric(exp)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_val: dict[str, float] = {}
        self.last_train: dict[str, float] | None = None
        self.bad_epochs = 0
        self.finished = False
        self.records: list[dict[str, Any]] = []
        self.history = History()
        self._pending: list[torch.Tensor] = []  # this epoch's step losses, read once at its end (no per-step sync)

    # -- during training
    def on_step_end(self, step: int, loss: torch.Tensor, batch: Batch) -> None:
        self._pending.append(loss.detach())
        self.history.step_lrs.append(float(self.optimizer.param_groups[0]["lr"]))

    def on_epoch_end(self, record: EpochRecord, model: nn.Module) -> bool:
        row = record.to_dict()
        row.pop("seconds", None)  # the only figure that differs between an uninterrupted and a resumed run
        if self._pending:
            self.history.step_losses.extend(torch.stack(self._pending).float().cpu().tolist())
            self._pending.clear()
        self.history.epochs.append(record)
        stop = not math.isfinite(record.train_loss)
        if self.fit_test is not None:
            self.last_train = evaluate(model, self.train, self.exp, device=self.device)
            row.update({f"train_{k}": v for k, v in self.last_train.items()})
            self.best_val = dict(record.val)  # step 3 keeps the last epoch, and reports its scores
            stop = stop or self.fit_test(self.last_train, record.val)
        else:
            stop = stop or self._update_best(record, model)
        self.records.append(row)
        self.finished = stop or record.epoch + 1 >= self.cfg.epochs
        self._save(model, record.epoch)
        return stop

    def _update_best(self, record: EpochRecord, model: nn.Module) -> bool:
        value = record.val.get(self.metric, math.nan)
        if self.cfg.schedule == "onecycle":
            # A one-cycle schedule is trained to its end, where it has annealed: that is what it is for. The best
            # of its epochs on a small validation set would be the luckiest one (measured on mnist1d: the best of
            # 100 epochs came at 31, at peak lr, 0.992 against 0.982 at the end), and would win every comparison
            # against a configuration scored fairly.
            self.best_val = dict(record.val)
            return False
        if is_better(value, self.best, higher_is_better=self.higher_is_better):
            self.best, self.best_epoch, self.best_val, self.bad_epochs = value, record.epoch, dict(record.val), 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        return self.cfg.patience is not None and self.bad_epochs >= self.cfg.patience

    # -- checkpoint
    _FIELDS = ("best", "best_epoch", "best_state", "best_val", "last_train", "bad_epochs", "finished", "records",
               "history")

    def _save(self, model: nn.Module, epoch: int) -> None:
        if self.checkpoint is None:
            return
        save_checkpoint(self.checkpoint, epoch=epoch, model=model.state_dict(), optimizer=self.optimizer.state_dict(),
                        scheduler=self.scheduler.state_dict() if self.scheduler is not None else None,
                        tracker={name: getattr(self, name) for name in self._FIELDS})

    def restore(self, model: nn.Module) -> int:
        """Load the last saved epoch, if any; the epoch to start from."""
        if self.checkpoint is None or not self.checkpoint.exists():
            return 0
        try:
            saved = load_checkpoint(self.checkpoint, map_location=self.device)
        except UnreadableFile:
            set_aside(self.checkpoint)  # never loaded: this unit starts from its first epoch
            return 0
        model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.scheduler is not None and saved["scheduler"] is not None:
            self.scheduler.load_state_dict(saved["scheduler"])
        for name in self._FIELDS:
            setattr(self, name, saved["tracker"][name])
        return int(saved["epoch"]) + 1

    # -- the outcome
    def result(self, model: nn.Module) -> Trained:
        if self.fit_test is not None or self.best_state is None or self.cfg.schedule == "onecycle":
            val = dict(self.best_val) or evaluate(model, self.exp.val, self.exp, device=self.device)
            best_epoch = len(self.records) - 1 if self.records else None
        else:
            model.load_state_dict(self.best_state)
            val, best_epoch = dict(self.best_val), self.best_epoch
        stopped = len(self.records) < self.cfg.epochs
        return Trained(model=model, val=val, best_epoch=best_epoch, epochs_run=len(self.records), records=self.records,
                       train=self.last_train, stopped_early=stopped, history=self.history)
