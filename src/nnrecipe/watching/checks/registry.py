"""Every online check of `nr.watch`, by id, in the order they are reported. A new check is its file, one line
here and its title in `nnrecipe.catalog` (where the report reads it)."""

from __future__ import annotations

from typing import Any

from nnrecipe.watching.checks.base import WatchCheck
from nnrecipe.watching.checks.gradient_health import GradientHealth
from nnrecipe.watching.checks.gradient_spike import GradientSpike
from nnrecipe.watching.checks.input_stats import InputStats
from nnrecipe.watching.checks.loss_decreases import LossDecreases
from nnrecipe.watching.checks.loss_finite import LossFinite
from nnrecipe.watching.checks.lr_schedule import LrSchedule
from nnrecipe.watching.checks.overfitting import Overfitting
from nnrecipe.watching.checks.params_update import ParamsUpdate

WATCH_CHECKS: dict[str, type[WatchCheck[Any, Any]]] = {
    InputStats.id: InputStats,
    LossFinite.id: LossFinite,
    LossDecreases.id: LossDecreases,
    GradientSpike.id: GradientSpike,
    Overfitting.id: Overfitting,
    LrSchedule.id: LrSchedule,
    ParamsUpdate.id: ParamsUpdate,
    GradientHealth.id: GradientHealth,
}
