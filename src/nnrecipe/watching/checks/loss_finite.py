"""loss-finite: every loss and every gradient the loop produced is a finite number.

A NaN or an Inf poisons every weight it touches, and training goes on silently with a broken model. The
check names the first step where the loss or the total gradient norm stopped being finite, which is where
to look: a learning rate far too high, a log of zero, a division by a tiny number, a NaN in the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnrecipe.catalog import WATCH_CHECK_TITLES
from nnrecipe.checks.base import NoThresholds
from nnrecipe.watching.checks.base import Verdict, WatchCheck
from nnrecipe.watching.record import WatchRecord

FIX = ("the optimization diverges: lower the learning rate, clip gradients (torch.nn.utils.clip_grad_norm_), and "
       "look for NaN/Inf in the inputs, a log or sqrt of zero, or a division by a tiny number")


@dataclass(frozen=True)
class LossFiniteEvidence:
    #: how many losses and total gradient norms were seen
    losses: int
    gradient_norms: int
    #: (step, value) of the first non-finite loss, gradient norm and validation loss; None: all finite
    first_bad_loss: tuple[int, float] | None
    first_bad_gradient: tuple[int, float] | None
    first_bad_val_loss: tuple[int, float] | None


class LossFinite(WatchCheck[LossFiniteEvidence, NoThresholds]):
    id = "loss-finite"
    title = WATCH_CHECK_TITLES[id]
    Thresholds = NoThresholds

    def applies(self, record: WatchRecord) -> str | None:
        if not record.losses and not record.grad_norms:
            return "no loss was logged and no gradient was seen"
        return None

    def measure(self, record: WatchRecord) -> LossFiniteEvidence:
        return LossFiniteEvidence(losses=len(record.losses), gradient_norms=len(record.grad_norms),
                                  first_bad_loss=record.losses.first_non_finite(),
                                  first_bad_gradient=record.grad_norms.first_non_finite(),
                                  first_bad_val_loss=record.val_losses.first_non_finite())

    def judge(self, e: LossFiniteEvidence, t: NoThresholds) -> Verdict:
        found = [(what, bad) for what, bad in (("loss", e.first_bad_loss), ("gradient norm", e.first_bad_gradient),
                                                ("validation loss", e.first_bad_val_loss)) if bad is not None]
        if found:
            what, (step, value) = min(found, key=lambda item: item[1][0])
            others = [f"the {w} at step {b[0]}" for w, b in found if w != what]
            also = f" (then {', '.join(others)})" if others else ""
            return Verdict("fail", f"the {what} turned {value} at step {step}{also}", FIX,
                           evidence={"first_step": step, "what": what})
        return Verdict("pass", f"all {e.losses} losses and {e.gradient_norms} gradient norms are finite")
