"""Every check, by id, in recipe order. A new check is its file plus one line here."""

from __future__ import annotations

from nnrecipe.checks.base import Check
from nnrecipe.checks.skeleton.init_loss import InitLoss
from nnrecipe.checks.skeleton.loss_decreases import LossDecreases
from nnrecipe.checks.skeleton.overfit_one_batch import OverfitOneBatch

CHECKS: dict[str, type[Check]] = {
    # step 1: become one with the data
    # step 2: end-to-end skeleton and dumb baselines
    InitLoss.id: InitLoss,
    OverfitOneBatch.id: OverfitOneBatch,
    LossDecreases.id: LossDecreases,
}
