"""capacity: a bit more capacity must lower the short run's training loss.

The bigger model is two copies of the user's model side by side, outputs summed and scaled by 1/sqrt(2):
a network of twice the width (block-diagonal weights) with the same output scale at init. When doubling
the width does not lower the training loss, something other than capacity holds training back: a
saturating output (softmax before the loss), a clamped loss, a learning rate far off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.skeleton.short_run import end_of_run, shared_short_run, train_short


@dataclass(frozen=True)
class CapacityThresholds:
    #: the share of the run's last steps averaged for its end
    window: float = 0.15
    #: the base run counts as already fitted when its end loss is below this fraction of its start
    fitted: float = 0.02


class Doubled(nn.Module):
    """Two models side by side: the sum of their outputs over sqrt(2)."""

    def __init__(self, factory: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.a, self.b = factory(), factory()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.a(x) + self.b(x)) * 2**-0.5


class Capacity(Check):
    id = "capacity"
    stage = "skeleton"
    title = "More capacity lowers the training loss"
    Thresholds = CapacityThresholds

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        base = shared_short_run(ctx)
        factory = ctx.experiment.model
        # Same seed as the shared run: the same batches, in the same order.
        big = train_short(ctx, "capacity", factory=lambda: Doubled(factory), seed=ctx.derive("short-run"))
        return {"_base": base.history.step_losses, "_big": big.history.step_losses,
                "parameters": sum(p.numel() for p in base.model.parameters()),
                "parameters_doubled": sum(p.numel() for p in big.model.parameters())}

    def judge(self, m: Mapping[str, Any], t: CapacityThresholds) -> Verdict:
        base, big = m["_base"], m["_big"]
        if not base or not big:
            return Verdict("skip", "the short runs made no training step")
        b_end, d_end, start = end_of_run(base, t.window), end_of_run(big, t.window), base[0]
        numbers = {"base_end": b_end, "doubled_end": d_end, "start": start}
        text = f"training loss after the short run: {b_end:.4g} at the model's width, {d_end:.4g} at twice the width"
        if b_end == b_end and b_end < t.fitted * abs(start):  # already fitted: nothing left to lower
            return Verdict("pass", f"{text}; the model already fits the training batches", evidence=numbers)
        if d_end < b_end:
            return Verdict("pass", text, evidence=numbers)
        return Verdict("warn", f"{text}: more capacity does not help",
                       "something other than capacity holds training back: a softmax/sigmoid before the loss, a "
                       "clamped loss, a learning rate far off, or labels that do not follow the inputs",
                       evidence=numbers)
