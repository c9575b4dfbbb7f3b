"""The training loop: reads top to bottom, in phases. Every step of the recipe trains through `fit`.

Per-step losses stay on the device and are read once per epoch, so the loop adds no host-device sync over a
plain hand-written loop (see benchmarks/loop_throughput.py).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nnrecipe.engine.data import Batch, Batches, LossFn, ignore_index, loss_fn, make_optimizer
from nnrecipe.engine.outputs import forward
from nnrecipe.engine.seeding import derive_seed, seed_everything, seeded
from nnrecipe.engine.targets import labelled
from nnrecipe.experiment import Experiment


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


class Callback:
    """Hooks into `fit`. Return True from `on_epoch_end` to stop training (early stopping)."""

    def on_train_start(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None: ...

    def on_step_end(self, step: int, loss: torch.Tensor, batch: Batch) -> None: ...

    def on_epoch_end(self, record: EpochRecord, model: nn.Module) -> bool | None:
        return None

    def on_train_end(self, history: History) -> None: ...


def standard_step(loss: LossFn) -> Callable[[nn.Module, Batch, torch.optim.Optimizer], torch.Tensor]:
    """The standard optimization step: zero_grad, forward, loss, backward, step."""

    def step(model: nn.Module, batch: Batch, optimizer: torch.optim.Optimizer) -> torch.Tensor:
        x, y = batch
        optimizer.zero_grad(set_to_none=True)
        out = forward(model, x)
        value = loss(out, y)
        value.backward()
        optimizer.step()
        return value

    return step


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


def fit(
    model: nn.Module,
    exp: Experiment,
    *,
    device: torch.device,
    epochs: int | None = None,
    max_steps: int | None = None,
    train: Any = None,
    val: Any = None,
    seed: int | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = "experiment",
    augment: bool = True,
    batch_size: int | None = None,
    batch_augment: Callable[[torch.Tensor, torch.Tensor, torch.Generator], Batch] | None = None,
    train_step: Callable[[nn.Module, Batch, torch.optim.Optimizer], Any] | None = None,
    callbacks: Sequence[Callback] = (),
    start_epoch: int = 0,
) -> History:
    """Train `model` in place on the experiment's training data; evaluate on `val` after every epoch.

    Defaults come from the experiment (its optimizer, scheduler, augment, batch size, train_step, epochs);
    any of them can be overridden by the step that calls. `max_steps` cuts training short inside an epoch.
    Seeded from `seed` (default the experiment's), with the global random state restored afterwards.
    """
    seed = exp.seed if seed is None else seed
    train = exp.train if train is None else train
    val = exp.val if val is None else (None if val is False else val)  # False: no evaluation
    epochs = exp.epochs if epochs is None else epochs
    loss = loss_fn(exp)
    history = History()

    with seeded(derive_seed(seed, "fit", start_epoch)), mode(model, True):
        # -- setup: data order, optimizer and schedule, all derived from the one seed
        batches = Batches(
            train,
            batch_size=batch_size or exp.batch_size,
            shuffle=True,
            seed=derive_seed(seed, "order", start_epoch),
            augment=exp.augment if augment else None,
            batch_augment=batch_augment,
        )
        opt = optimizer if optimizer is not None else make_optimizer(exp, model.parameters())
        sched = (exp.scheduler(opt) if exp.scheduler is not None else None) if scheduler == "experiment" else scheduler
        step_fn = train_step or exp.train_step or standard_step(loss)
        for cb in callbacks:
            cb.on_train_start(model, opt)

        # -- the loop
        step = 0
        started = time.perf_counter()
        for epoch in range(start_epoch, epochs):
            # Every epoch's randomness (data order, augmentation, dropout) comes from (seed, epoch) alone, so a
            # run resumed at any epoch with `start_epoch` replays exactly what the uninterrupted run did.
            seed_everything(derive_seed(seed, "fit", epoch))
            batches.reseed(derive_seed(seed, "order", epoch))
            epoch_started = time.perf_counter()
            losses: list[torch.Tensor] = []
            lrs: list[float] = []
            for x, y in batches:
                batch = (x.to(device, non_blocking=True), y.to(device, non_blocking=True))
                lrs.append(_current_lr(opt))
                value = step_fn(model, batch, opt)
                value = value.detach() if isinstance(value, torch.Tensor) else torch.tensor(float(value))
                losses.append(value)
                history.samples += len(x)
                for cb in callbacks:
                    cb.on_step_end(step, value, batch)
                if sched is not None and exp.scheduler_interval == "step":
                    sched.step()
                step += 1
                if max_steps is not None and step >= max_steps:
                    break
            if sched is not None and exp.scheduler_interval == "epoch":
                sched.step()

            # -- one sync per epoch: read the step losses, evaluate on the whole validation set
            step_values = torch.stack(losses).float().cpu().tolist() if losses else []
            history.step_losses.extend(step_values)
            history.step_lrs.extend(lrs)
            record = EpochRecord(
                epoch=epoch,
                train_loss=sum(step_values) / max(len(step_values), 1),
                lr=lrs[-1] if lrs else _current_lr(opt),
                seconds=time.perf_counter() - epoch_started,
            )
            if val is not None and math.isfinite(record.train_loss):
                record.val = evaluate(model, val, exp, device=device)
            history.epochs.append(record)
            stop = [cb.on_epoch_end(record, model) for cb in callbacks]
            if any(stop):
                history.stopped_early = True
                break
            if (max_steps is not None and step >= max_steps) or not math.isfinite(record.train_loss):
                break
        history.seconds = time.perf_counter() - started
        for cb in callbacks:
            cb.on_train_end(history)
    return history


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
