"""params-update: every trainable parameter is held by the optimizer and gets a gradient.

A parameter the optimizer does not hold never learns (an optimizer built from part of the model, or from
another copy of it); one that never gets a gradient is cut off from the loss (a detach, `.data`, a layer
defined but not used in forward). Gradients are looked at on the sampled steps, just before the optimizer
steps. Frozen parameters (`requires_grad=False`) are listed, not judged: in a loop of one's own, freezing is
a choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnrecipe.catalog import WATCH_CHECK_TITLES
from nnrecipe.watching.checks.base import Verdict, WatchCheck
from nnrecipe.watching.record import WatchRecord

LISTED = 8


@dataclass(frozen=True)
class ParamsUpdateThresholds:
    #: "never gets a gradient" is judged once gradients were looked at on this many sampled steps
    min_samples: int = 3


def _names(names: list[str]) -> str:
    return ", ".join(names[:LISTED]) + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


@dataclass(frozen=True)
class ParamsUpdateEvidence:
    #: how many parameters are trainable, and the names of the frozen ones (requires_grad=False)
    trainable: int
    frozen: list[str]
    #: trainable parameters the optimizer does not hold, and those with no gradient on any sampled step
    not_in_optimizer: list[str]
    no_gradient: list[str]
    #: the sampled steps gradients were looked at on
    gradient_samples: int
    has_optimizer: bool


class ParamsUpdate(WatchCheck[ParamsUpdateEvidence, ParamsUpdateThresholds]):
    id = "params-update"
    title = WATCH_CHECK_TITLES[id]
    Thresholds = ParamsUpdateThresholds

    def applies(self, record: WatchRecord) -> str | None:
        if not record.params.trainable:
            return "the model has no trainable parameter"
        return None

    def measure(self, record: WatchRecord) -> ParamsUpdateEvidence:
        p = record.params
        return ParamsUpdateEvidence(trainable=len(p.trainable), frozen=p.frozen, not_in_optimizer=p.not_in_optimizer,
                                    no_gradient=[n for n in p.trainable if not p.got_gradient.get(n, False)],
                                    gradient_samples=p.gradient_samples, has_optimizer=record.has_optimizer)

    def judge(self, e: ParamsUpdateEvidence, t: ParamsUpdateThresholds) -> Verdict:
        missing = e.not_in_optimizer
        if missing:
            return Verdict("fail", f"{len(missing)} of {e.trainable} trainable parameter(s) are not in the "
                           f"optimizer: {_names(missing)}",
                           "build the optimizer from model.parameters() (all of them, of this very model), or "
                           "freeze what you leave out with requires_grad_(False)")
        cut = e.no_gradient
        if cut and e.gradient_samples >= t.min_samples:
            return Verdict("fail", f"{len(cut)} of {e.trainable} trainable parameter(s) never got a gradient on "
                           f"{e.gradient_samples} sampled steps: {_names(cut)}",
                           "these parameters are cut off from the loss: look for a detach(), .data, a layer defined "
                           "but not used in forward, or an integer cast on the way")
        frozen = f" ({len(e.frozen)} frozen: {_names(e.frozen)})" if e.frozen else ""
        if e.gradient_samples < t.min_samples:
            held = "are in the optimizer" if e.has_optimizer else "were seen (no optimizer given)"
            return Verdict("pass", f"all {e.trainable} trainable parameters {held}{frozen}; gradients were seen "
                           f"on {e.gradient_samples} sampled steps, too few to call one missing")
        held = "are in the optimizer and " if e.has_optimizer else ""
        return Verdict("pass", f"all {e.trainable} trainable parameters {held}got gradients on "
                       f"{e.gradient_samples} sampled steps{frozen}")
