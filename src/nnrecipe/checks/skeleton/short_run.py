"""The short real training run that several step-2 checks read (loss-decreases, and later params-update,
gradient-health, capacity). It runs once per check context."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.loop import History, fit

# Steps per budget: long enough that a correct setup clearly lowers its loss, short enough that `check` is fast.
SHORT_RUN_STEPS = {"quick": 80, "default": 150, "long": 400}


@dataclass
class ShortRun:
    model: nn.Module
    history: History
    steps: int


def short_run_steps(ctx: CheckContext) -> int:
    return SHORT_RUN_STEPS.get(ctx.budget, SHORT_RUN_STEPS["default"])


def train_short(ctx: CheckContext, *names: object, **fit_overrides: object) -> ShortRun:
    """A fresh model trained for the short budget with the experiment's own optimizer and step.

    No augmentation and no validation: step 2 verifies the pipeline, not generalization.
    """
    steps = short_run_steps(ctx)
    model = ctx.fresh_model("short-run", *names)
    history = fit(
        model, ctx.experiment, device=ctx.device, epochs=10**6, max_steps=steps, val=False,
        seed=ctx.derive("short-run", *names), augment=False, **fit_overrides,  # type: ignore[arg-type]
    )
    return ShortRun(model=model, history=history, steps=steps)


def shared_short_run(ctx: CheckContext) -> ShortRun:
    return ctx.shared("short-run", lambda: train_short(ctx))
