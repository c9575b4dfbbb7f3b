"""target-alignment (sequence task): the target at position t must be the *next* token, not one the model
already sees.

When the target equals the input at the same position (or the one before) far more often than chance, the
shift is off by one: the model is shown what it must predict, learns to copy, and its loss means nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import torch

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.targets import labelled
from nnrecipe.results import Status

SAMPLES = 256


@dataclass(frozen=True)
class TargetAlignmentThresholds:
    #: excess agreement over chance, as a share of what is left above chance: (rate - chance) / (1 - chance)
    fail_excess: float = 0.5
    warn_excess: float = 0.2


def agreement(x: torch.Tensor, y: torch.Tensor, lag: int, vocab: int, ignore: int | None = None) -> tuple[float, float]:
    """How often y[t] == x[t - lag], and how often it would by chance given the two token distributions;
    over the labelled target positions only (padding with the ignore index does not count)."""
    xs, ys = (x[:, : x.shape[1] - lag], y[:, lag:]) if lag else (x, y)
    keep = labelled(ys, ignore) & (ys >= 0) & (xs >= 0)
    xs, ys = xs[keep], ys[keep]
    if not len(ys):
        return 0.0, 0.0
    rate = float((xs == ys).double().mean())
    px = torch.bincount(xs, minlength=vocab).double() / xs.numel()
    py = torch.bincount(ys, minlength=vocab).double() / ys.numel()
    return rate, float((px * py).sum())


class Agreement(TypedDict):
    #: how often the target equals the input at a lag, and how often it would by chance
    rate: float
    chance: float


@dataclass(frozen=True)
class TargetAlignmentEvidence:
    #: agreement of y[t] with x[t] and with x[t - 1]: either far above chance is an off-by-one
    same_position: Agreement
    previous_position: Agreement
    #: how often y[t] == x[t + 1], the correct alignment (for the report); measured on sequences longer than one
    next_position_rate: float | None = None


class TargetAlignment(ModelCheck[TargetAlignmentEvidence, TargetAlignmentThresholds]):
    id = "target-alignment"
    stage = "skeleton"
    title = "Targets are the next tokens, not the visible ones"
    Thresholds = TargetAlignmentThresholds

    def applies(self, ctx: ModelContext) -> str | None:
        return None if ctx.task == "sequence" else "only for the sequence task (next-token prediction)"

    def measure(self, ctx: ModelContext) -> TargetAlignmentEvidence:
        x, y = ctx.batch(SAMPLES, "train", "target-alignment")
        x, y = x.long().cpu(), y.long().cpu()
        vocab = max(int(x.max()), int(y.max())) + 1
        same, previous = (agreement(x, y, lag, vocab, ctx.ignore_index) for lag in (0, 1))
        next_rate = None
        if x.shape[1] > 1:  # the correct alignment, y[t] == x[t+1], for the report
            keep = labelled(y[:, :-1], ctx.ignore_index)
            next_rate = float((x[:, 1:] == y[:, :-1])[keep].double().mean()) if bool(keep.any()) else 0.0
        return TargetAlignmentEvidence(same_position={"rate": same[0], "chance": same[1]},
                                       previous_position={"rate": previous[0], "chance": previous[1]},
                                       next_position_rate=next_rate)

    def judge(self, e: TargetAlignmentEvidence, t: TargetAlignmentThresholds) -> Verdict:
        lags = {"same_position": e.same_position, "previous_position": e.previous_position}
        worst_name, worst_excess = "", 0.0
        for name, a in lags.items():
            excess = (a["rate"] - a["chance"]) / max(1 - a["chance"], 1e-9)
            if excess > worst_excess:
                worst_name, worst_excess = name, excess
        where = {"same_position": "the input at the same position", "previous_position": "the previous input"}
        if worst_excess > t.warn_excess:
            r = lags[worst_name]
            text = (f"the target equals {where[worst_name]} {r['rate']:.0%} of the time (chance {r['chance']:.1%})")
            status: Status = "fail" if worst_excess > t.fail_excess else "warn"
            return Verdict(status, text, "the targets are shifted wrongly: for next-token prediction the input is "
                           "tokens[:-1] and the target tokens[1:]", evidence={"excess": worst_excess})
        r = e.same_position
        return Verdict("pass", f"targets match the same-position input {r['rate']:.1%} of the time "
                       f"(chance {r['chance']:.1%})", evidence={"excess": worst_excess})
