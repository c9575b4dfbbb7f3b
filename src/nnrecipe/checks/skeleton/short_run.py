"""The short real training run that several step-2 checks read (loss-decreases, params-update,
gradient-health, capacity, input-independent, dumb-baselines, augment-consistency, human-baseline).
It runs once per check context, and records on the way what those checks need: the parameters it started
from and, every few steps, the size of each weight update relative to the weight."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.data import Batch
from nnrecipe.engine.loop import Callback, History, evaluate, fit

# Steps per budget: long enough that a correct setup clearly lowers its loss, short enough that `check` is fast.
SHORT_RUN_STEPS = {"quick": 80, "default": 150, "long": 400}
# Update-to-weight ratios are sampled every this many steps (a parameter copy each time).
RATIO_EVERY = 10
# Validation scores of the short run use at most this many samples.
VAL_SAMPLES = 2048


@dataclass
class ShortRun:
    model: nn.Module
    history: History
    steps: int
    #: the parameters before the first step (clones), by name
    initial: dict[str, torch.Tensor] = field(default_factory=dict)
    #: per parameter name, the sampled ratios ||update|| / ||weight||
    update_ratios: dict[str, list[float]] = field(default_factory=dict)
    #: the first training batch as the model received it (the report's "what goes into the net"), or None
    input_batch: dict[str, Any] | None = None


class _Recorder(Callback):
    """Keeps the starting parameters and samples update-to-weight ratios, without a sync per step."""

    def __init__(self, run: ShortRun) -> None:
        self.run = run
        self.model: nn.Module | None = None
        self.before: dict[str, torch.Tensor] | None = None

    def on_train_start(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model = model
        self.run.initial = _clone(model)

    def on_step_end(self, step: int, loss: torch.Tensor, batch: Batch) -> None:
        assert self.model is not None
        if self.before is not None:
            for name, p in self.model.named_parameters():
                old = self.before[name]
                ratio = float((p.detach() - old).norm() / old.norm().clamp_min(1e-12))
                self.run.update_ratios.setdefault(name, []).append(ratio)
            self.before = None
        if (step + 1) % RATIO_EVERY == 0:
            self.before = _clone(self.model)


def _clone(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def end_of_run(losses: list[float], window: float) -> float:
    """The mean loss over the last `window` share of a run's steps: the run's end, with batch noise averaged out."""
    k = max(1, round(window * len(losses)))
    return sum(losses[-k:]) / k


def planned_steps(exp: Any) -> int:
    """The optimization steps the experiment plans: epochs x batches per epoch."""
    return int(exp.epochs * math.ceil(len(exp.train) / exp.batch_size))


def short_run_steps(ctx: ModelContext) -> int:
    """The short budget; with a scheduler, never more than the planned budget (a schedule sized to it, like
    OneCycleLR, must not be stepped past its end)."""
    steps = SHORT_RUN_STEPS.get(ctx.budget, SHORT_RUN_STEPS["default"])
    return steps if ctx.experiment.scheduler is None else min(steps, planned_steps(ctx.experiment))


def train_short(
    ctx: ModelContext, *names: object, factory: Any = None, steps: int | None = None, callbacks: Sequence[Callback] = (),
    seed: int | None = None,
) -> ShortRun:
    """A fresh model trained for the short budget with the experiment's own optimizer, schedule and step.

    No augmentation and no validation: step 2 verifies the pipeline, not generalization. The data order
    depends on `names` only through the seed (default: derived from them), so two runs with the same names see
    the same batches.
    """
    from nnrecipe.engine.observe.inputs import InputCapture

    steps = steps or short_run_steps(ctx)
    model = ctx.fresh_model("short-run", *names, factory=factory)
    run = ShortRun(model=model, history=History(), steps=steps)
    seed = ctx.derive("short-run", *names) if seed is None else seed
    # The input recorder only copies the first batch off a forward pre-hook: no random numbers, no change to the run.
    inputs = InputCapture(ctx.experiment)
    run.history = fit(
        model, ctx.experiment, device=ctx.device, epochs=10**6, max_steps=steps, seed=seed,
        augment=False, callbacks=[_Recorder(run), inputs, *callbacks],
    )
    recorded = inputs.record()
    run.input_batch = {**recorded, "from": "the checks' short run (no augmentation)"} if recorded else None
    return run


def shared_short_run(ctx: ModelContext) -> ShortRun:
    return ctx.shared("short-run", lambda: train_short(ctx))


def val_subset(ctx: ModelContext, split: str = "val", n: int = VAL_SAMPLES) -> Any:
    """At most `n` samples of a split (a fixed seeded choice), so evaluation stays fast on large sets."""
    ds = getattr(ctx.experiment, split)
    if len(ds) <= n:
        return ds
    gen = torch.Generator().manual_seed(ctx.derive("val-subset", split, n))
    idx = torch.randperm(len(ds), generator=gen)[:n].tolist()
    return torch.utils.data.Subset(ds, idx)


def shared_short_run_scores(ctx: ModelContext) -> dict[str, float]:
    """The short-run model's loss and metrics on (a subset of) the validation set."""

    def compute() -> dict[str, float]:
        run = shared_short_run(ctx)
        return evaluate(run.model, val_subset(ctx), ctx.experiment, device=ctx.device)

    return ctx.shared("short-run-val", compute)
