"""The training loop: reads top to bottom, in phases. Every step of the recipe trains through `fit`.

`fit` sets a run up (`_setup`: data order, optimizer and schedule, all from the one seed), trains it epoch by
epoch (`_train_epoch`, one `_train_step` per batch), evaluates after each epoch and asks the callbacks whether to
go on (`_end_epoch`). Per-step losses stay on the device and are read once per epoch, so the loop adds no
host-device sync over a plain hand-written loop (see benchmarks/loop_throughput.py).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch
from torch import nn
from torch.utils.data import Dataset

from nnrecipe.engine.data import Batch, Batches, LossFn, ignore_index, loss_fn, make_optimizer
from nnrecipe.engine.outputs import forward
from nnrecipe.engine.targets import labelled
from nnrecipe.experiment import Experiment
from nnrecipe.progress import Callback  # fit's hooks, defined at the lowest layer so a Progress can make one
from nnrecipe.seeding import derive_seed, seed_everything, seeded

__all__ = ["BatchAugment", "Callback", "EpochRecord", "History", "Optimization", "Scheduler", "TrainStep",
           "accuracy", "evaluate", "fit", "mode", "predict", "predicted_classes", "scores_from_outputs",
           "standard_step"]

#: one optimization step on a batch: returns the loss (a tensor, or a number)
TrainStep = Callable[[nn.Module, Batch, torch.optim.Optimizer], Any]
#: an augmentation of a whole batch, drawing from the data order's generator
BatchAugment = Callable[[torch.Tensor, torch.Tensor, torch.Generator], Batch]


class Scheduler(Protocol):
    """A learning-rate schedule: `fit` calls `step()` after every epoch or every step (the experiment's interval)."""

    def step(self) -> object: ...


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    lr: float
    seconds: float
    val: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "train_loss": self.train_loss, "lr": self.lr, "seconds": self.seconds,
                **{f"val_{k}": v for k, v in self.val.items()}}


@dataclass
class History:
    """What a training run measured: the loss and lr at every step, and a record per epoch."""

    step_losses: list[float] = field(default_factory=list)
    step_lrs: list[float] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    samples: int = 0
    seconds: float = 0.0
    stopped_early: bool = False

    @property
    def diverged(self) -> bool:
        return any(not math.isfinite(v) for v in self.step_losses)

    def best_epoch(self, metric: str = "loss") -> EpochRecord | None:
        scored = [e for e in self.epochs if metric in e.val]
        if not scored:
            return None
        higher_is_better = metric == "accuracy"
        return (max if higher_is_better else min)(scored, key=lambda e: e.val[metric])


#: the arithmetic of the standard step's forward pass: fp32, or bf16 autocast (weights and optimizer stay fp32)
Precision = Literal["fp32", "bf16"]


def standard_step(loss: LossFn, precision: Precision = "fp32") -> Callable[[nn.Module, Batch, torch.optim.Optimizer],
                                                                          torch.Tensor]:
    """The standard optimization step: zero_grad, forward, loss, backward, step. With bf16, the forward pass and
    the loss run under autocast (bf16 keeps fp32's range, so no loss scaling) and backward outside it."""

    def step(model: nn.Module, batch: Batch, optimizer: torch.optim.Optimizer) -> torch.Tensor:
        x, y = batch
        optimizer.zero_grad(set_to_none=True)
        with _autocast(model, precision):
            out = forward(model, x)
            value = loss(out, y)
        value.backward()
        optimizer.step()
        return value

    return step


def _autocast(model: nn.Module, precision: Precision) -> contextlib.AbstractContextManager[Any]:
    if precision == "fp32":
        return contextlib.nullcontext()
    weight = next(model.parameters(), None)
    return torch.autocast(device_type=weight.device.type if weight is not None else "cpu", dtype=torch.bfloat16)


@contextlib.contextmanager
def mode(model: nn.Module, training: bool) -> Iterator[nn.Module]:
    """Put the model in train or eval mode for a block, then back in the mode it was found in."""
    was_training = model.training
    model.train(training)
    try:
        yield model
    finally:
        model.train(was_training)


def _current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


@dataclass(frozen=True)
class Optimization:
    """An optimizer the caller built and its schedule (None: a constant learning rate), to train with in place of
    the experiment's own; the caller keeps hold of both (to checkpoint their state, say)."""

    optimizer: torch.optim.Optimizer
    scheduler: Scheduler | None = None


def fit(
    model: nn.Module,
    exp: Experiment,
    *,
    device: torch.device,
    evaluate_on: Dataset | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    train: Dataset | None = None,
    seed: int | None = None,
    optimization: Optimization | None = None,
    augment: bool = True,
    batch_size: int | None = None,
    batch_augment: BatchAugment | None = None,
    train_step: TrainStep | None = None,
    callbacks: Sequence[Callback] = (),
    start_epoch: int = 0,
    precision: Precision = "fp32",
) -> History:
    """Train `model` in place; evaluate it on `evaluate_on` after every epoch (None: no evaluation).

    Options left None are the experiment's own: its training set, epochs, seed, batch size and train_step (else
    the standard step on its loss), and `optimization`: its optimizer and scheduler, built here. `augment=False`
    leaves out the experiment's per-sample augmentation. `max_steps` cuts training short inside an epoch; a
    run resumed at `start_epoch` replays the uninterrupted one. `precision="bf16"` runs the standard step's
    forward pass under bf16 autocast (a `train_step` of one's own keeps its own arithmetic). The global random
    state is restored afterwards.
    """
    seed = exp.seed if seed is None else seed
    loss = loss_fn(exp)  # before the seeded block: finding the ignore index may read the training targets once
    with seeded(derive_seed(seed, "fit", start_epoch)), mode(model, True):
        run = _setup(model, exp, device=device, seed=seed, start_epoch=start_epoch,
                     train=exp.train if train is None else train, augment=augment, batch_size=batch_size,
                     batch_augment=batch_augment, optimization=optimization,
                     train_step=train_step or exp.train_step or standard_step(loss, precision), callbacks=callbacks,
                     max_steps=max_steps)
        started = time.perf_counter()
        for epoch in range(start_epoch, exp.epochs if epochs is None else epochs):
            record = _train_epoch(run, seed, epoch)
            if evaluate_on is not None and math.isfinite(record.train_loss):
                record.val = evaluate(model, evaluate_on, exp, device=device)
            run.history.epochs.append(record)
            if _end_epoch(run, record):
                break
        run.history.seconds = time.perf_counter() - started
        for cb in callbacks:
            cb.on_train_end(run.history)
    return run.history


@dataclass
class _Run:
    """One `fit` call's moving parts, and the count of optimizer steps taken (the callbacks' step number)."""

    model: nn.Module
    batches: Batches
    optimizer: torch.optim.Optimizer
    scheduler: Scheduler | None
    scheduler_interval: str
    train_step: TrainStep
    callbacks: Sequence[Callback]
    device: torch.device
    max_steps: int | None
    history: History = field(default_factory=History)
    steps: int = 0

    @property
    def out_of_steps(self) -> bool:
        return self.max_steps is not None and self.steps >= self.max_steps


def _setup(
    model: nn.Module, exp: Experiment, *, device: torch.device, seed: int, start_epoch: int,
    train: Dataset, augment: bool, batch_size: int | None, batch_augment: BatchAugment | None,
    optimization: Optimization | None, train_step: TrainStep, callbacks: Sequence[Callback], max_steps: int | None,
) -> _Run:
    """Data order, optimizer and schedule, all derived from the one seed (inside `fit`'s seeded block); then
    the callbacks' `on_train_start`."""
    batches = Batches(
        train,
        batch_size=batch_size or exp.batch_size,
        shuffle=True,
        seed=derive_seed(seed, "order", start_epoch),
        augment=exp.augment if augment else None,
        batch_augment=batch_augment,
    )
    if optimization is None:
        optimizer = make_optimizer(exp, model.parameters())
        optimization = Optimization(optimizer, exp.scheduler(optimizer) if exp.scheduler is not None else None)
    for cb in callbacks:
        cb.on_train_start(model, optimization.optimizer)
    return _Run(model=model, batches=batches, optimizer=optimization.optimizer,
                scheduler=optimization.scheduler, scheduler_interval=exp.scheduler_interval, train_step=train_step,
                callbacks=callbacks, device=device, max_steps=max_steps)


def _train_epoch(run: _Run, seed: int, epoch: int) -> EpochRecord:
    """One pass over the training data (or up to `max_steps`), stepping the schedule per the experiment's interval."""
    # Every epoch's randomness (data order, augmentation, dropout) comes from (seed, epoch) alone, so a
    # run resumed at any epoch with `start_epoch` replays exactly what the uninterrupted run did.
    seed_everything(derive_seed(seed, "fit", epoch))
    run.batches.reseed(derive_seed(seed, "order", epoch))
    started = time.perf_counter()
    losses: list[torch.Tensor] = []
    lrs: list[float] = []
    for x, y in run.batches:
        batch = (x.to(run.device, non_blocking=True), y.to(run.device, non_blocking=True))
        lrs.append(_current_lr(run.optimizer))
        losses.append(_train_step(run, batch))
        if run.out_of_steps:
            break
    if run.scheduler is not None and run.scheduler_interval == "epoch":
        run.scheduler.step()
    return _epoch_record(run, epoch, losses, lrs, started)


def _train_step(run: _Run, batch: Batch) -> torch.Tensor:
    """One optimization step; the loss stays on the device (detached)."""
    value = run.train_step(run.model, batch, run.optimizer)
    value = value.detach() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
    run.history.samples += len(batch[0])
    for cb in run.callbacks:
        cb.on_step_end(run.steps, value, batch)
    if run.scheduler is not None and run.scheduler_interval == "step":
        run.scheduler.step()
    run.steps += 1
    return value


def _epoch_record(run: _Run, epoch: int, losses: list[torch.Tensor], lrs: list[float], started: float) -> EpochRecord:
    """The one sync per epoch: the step losses are read off the device into the history and the epoch's record
    (the validation set is evaluated after, by `fit`)."""
    step_values = torch.stack(losses).float().cpu().tolist() if losses else []
    run.history.step_losses.extend(step_values)
    run.history.step_lrs.extend(lrs)
    return EpochRecord(
        epoch=epoch,
        train_loss=sum(step_values) / max(len(step_values), 1),
        lr=lrs[-1] if lrs else _current_lr(run.optimizer),
        seconds=time.perf_counter() - started,
    )


def _end_epoch(run: _Run, record: EpochRecord) -> bool:
    """Whether training stops after this epoch: a callback asked to (early stopping), `max_steps` is reached, or
    the loss is no longer finite."""
    stop = [cb.on_epoch_end(record, run.model) for cb in run.callbacks]  # every callback sees every epoch
    if any(stop):
        run.history.stopped_early = True
        return True
    return run.out_of_steps or not math.isfinite(record.train_loss)


@torch.no_grad()
def predict(model: nn.Module, ds: Any, *, device: torch.device, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs and targets over a whole dataset, in order, in eval mode (the model's mode is restored)."""
    outputs, targets = [], []
    with mode(model, False):
        for x, y in Batches(ds, batch_size=batch_size, shuffle=False, seed=0):
            outputs.append(forward(model, x.to(device, non_blocking=True)).float())
            targets.append(y.to(device, non_blocking=True))
    return torch.cat(outputs), torch.cat(targets)


@torch.no_grad()
def evaluate(model: nn.Module, ds: Any, exp: Experiment, *, device: torch.device, batch_size: int = 512) -> dict[str, float]:
    """Loss and the task's metrics over the entire dataset: accuracy, or mse and mae for regression."""
    outputs, targets = predict(model, ds, device=device, batch_size=batch_size)
    return scores_from_outputs(outputs, targets, exp)


def scores_from_outputs(outputs: torch.Tensor, targets: torch.Tensor, exp: Experiment) -> dict[str, float]:
    with torch.no_grad():
        scores = {"loss": float(loss_fn(exp)(outputs, targets))}
        if exp.task == "regression":
            diff = outputs.reshape(targets.shape) - targets if outputs.numel() == targets.numel() else outputs - targets
            scores["mse"] = float((diff**2).mean())
            scores["mae"] = float(diff.abs().mean())
        else:
            scores["accuracy"] = accuracy(outputs, targets, ignore_index(exp))
    return scores


def predicted_classes(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Class ids from outputs: the argmax of (B, C) / (B, T, V) scores, or for one binary logit per sample
    ((B,) or (B, 1) against (B,) targets) its sign."""
    if outputs.dim() == targets.dim() or (outputs.dim() == targets.dim() + 1 and outputs.shape[-1] == 1):
        return (outputs.reshape(targets.shape) > 0).long()
    return outputs.argmax(-1)


def accuracy(outputs: torch.Tensor, targets: torch.Tensor, ignore: int | None = None) -> float:
    """The share of labelled targets predicted right (positions holding the ignore index do not count)."""
    right = predicted_classes(outputs, targets) == targets
    keep = labelled(targets, ignore)
    return float(right[keep].float().mean()) if bool(keep.any()) else float("nan")
