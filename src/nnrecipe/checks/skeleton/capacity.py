"""capacity: a bit more capacity must lower the short run's training loss.

The bigger model is two copies of the user's model side by side, outputs summed and scaled by 1/sqrt(2):
a network of twice the width (block-diagonal weights) with the same output scale at init. When doubling
the width does not lower the training loss, something other than capacity holds training back: a
saturating output (softmax before the loss), a clamped loss, a learning rate far off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nnrecipe.checks.base import CannotRun, ModelCheck, Verdict, internal
from nnrecipe.checks.context import ModelContext
from nnrecipe.checks.skeleton.short_run import end_of_run, shared_short_run, train_short


@dataclass(frozen=True)
class CapacityThresholds:
    #: the share of the run's last steps averaged for its end
    window: float = 0.15
    #: the base run counts as already fitted when its end loss is below this fraction of its start
    fitted: float = 0.02
    #: judged only when the base run stalls: its loss fell by less than this fraction of its start
    stalled: float = 0.25


class Doubled(nn.Module):
    """Two models side by side: the sum of their outputs over sqrt(2)."""

    def __init__(self, factory: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.a, self.b = factory(), factory()

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        ra, rb = self.a(*args, **kwargs), self.b(*args, **kwargs)
        if isinstance(ra, (tuple, list)) and all(v is None for v in ra[1:]):
            ra, rb = ra[0], rb[0]  # a `(logits, None)` forward called without targets
        if not (isinstance(ra, torch.Tensor) and isinstance(rb, torch.Tensor)):
            raise CannotRun(f"the model's forward returns a {type(ra).__name__} that the step reads, so two copies "
                            "side by side cannot be combined into one model of twice the width")
        return (ra + rb) * 2**-0.5

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.a, name)  # the user's loss or step may read the model's own attributes


@dataclass(frozen=True)
class CapacityEvidence:
    #: the parameters of the experiment's model, and of two copies side by side
    parameters: int
    parameters_doubled: int
    #: the training loss at every step of the shared short run, and of the same run at twice the width
    base: list[float] = internal()
    big: list[float] = internal()


class Capacity(ModelCheck[CapacityEvidence, CapacityThresholds]):
    id = "capacity"
    stage = "skeleton"
    title = "More capacity lowers the training loss"
    Thresholds = CapacityThresholds

    def measure(self, ctx: ModelContext) -> CapacityEvidence:
        base = shared_short_run(ctx)
        factory = ctx.experiment.model
        # Same seed as the shared run: the same batches, in the same order.
        try:
            big = train_short(ctx, "capacity", factory=lambda: Doubled(factory), seed=ctx.derive("short-run"))
        except CannotRun:
            raise
        except Exception as exc:  # the user's code cannot train the doubled model: nothing to compare
            raise CannotRun(f"a model of twice the width could not be trained with this setup "
                            f"({type(exc).__name__}: {exc})") from exc
        return CapacityEvidence(parameters=sum(p.numel() for p in base.model.parameters()),
                                parameters_doubled=sum(p.numel() for p in big.model.parameters()),
                                base=base.history.step_losses, big=big.history.step_losses)

    def judge(self, e: CapacityEvidence, t: CapacityThresholds) -> Verdict:
        base, big = e.base, e.big
        if not base or not big:
            return Verdict("skip", "the short runs made no training step")
        b_end, d_end, start = end_of_run(base, t.window), end_of_run(big, t.window), base[0]
        numbers = {"base_end": b_end, "doubled_end": d_end, "start": start}
        text = f"training loss after the short run: {b_end:.4g} at the model's width, {d_end:.4g} at twice the width"
        if b_end == b_end and b_end < t.fitted * abs(start):  # already fitted: nothing left to lower
            return Verdict("pass", f"{text}; the model already fits the training batches", evidence=numbers)
        if d_end < b_end:
            return Verdict("pass", text, evidence=numbers)
        drop = (start - b_end) / abs(start) if start else 0.0
        if drop >= t.stalled:
            return Verdict("pass", f"{text}; the run learns ({drop:.0%} lower than at its start), so a short run "
                           "cannot tell the widths apart", evidence=numbers)
        return Verdict("warn", f"{text}: more capacity does not help",
                       "something other than capacity holds training back: a softmax/sigmoid before the loss, a "
                       "clamped loss, a learning rate far off, or labels that do not follow the inputs",
                       evidence=numbers)
