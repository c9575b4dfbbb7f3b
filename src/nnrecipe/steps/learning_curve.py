"""Step 4's learning curve: validation score on growing nested subsets of the training data, and the power law
through them that says what more data would likely give (the recipe's best regularizer)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Subset

from nnrecipe.steps.config import Budget, TrainingConfig
from nnrecipe.steps.context import RunContext
from nnrecipe.steps.training import selection_metric
from nnrecipe.steps.units import UnitResult, run_unit

if TYPE_CHECKING:
    from nnrecipe.steps.regularize import RegularizeThresholds


@dataclass(frozen=True)
class PowerLaw:
    """error(n) = a * n ** -b, fitted by least squares in log-log space."""

    a: float
    b: float

    def predict(self, n: float) -> float:
        return self.a * n ** -self.b


def fit_power_law(sizes: Sequence[float], errors: Sequence[float], *, floor: float = 1e-6) -> PowerLaw | None:
    """The power law through (size, error) points; None with fewer than two usable points."""
    points = [(n, max(e, floor)) for n, e in zip(sizes, errors, strict=True) if n > 0 and math.isfinite(e)]
    if len({n for n, _ in points}) < 2:
        return None
    log_n = np.log([n for n, _ in points])
    log_e = np.log([e for _, e in points])
    slope, intercept = np.polyfit(log_n, log_e, 1)
    return PowerLaw(a=float(np.exp(intercept)), b=float(-slope))


def learning_curve(run: RunContext, base: TrainingConfig, full: UnitResult, *, budget: Budget,
                   thresholds: RegularizeThresholds) -> dict[str, Any]:
    """Validation score on growing nested subsets of the training data, and the power law through them.

    A subset of fraction f trains for epochs/sqrt(f): fewer samples per epoch get more epochs, so the small
    subsets are not starved of optimization steps, at a cost well below a full run each.
    """
    exp = run.experiment
    metric, higher = selection_metric(exp)
    order = torch.randperm(len(exp.train), generator=torch.Generator().manual_seed(run.ctx.derive("curve")))
    points = []
    for fraction in budget.curve_fractions:
        n = max(1, int(round(fraction * len(exp.train))))
        if fraction >= 1.0:
            unit = full
        else:
            scale = 1 / math.sqrt(fraction)
            cfg = base.replace(epochs=math.ceil(base.epochs * scale),
                               patience=None if base.patience is None else math.ceil(base.patience * scale))
            unit = run_unit(run, f"regularize/curve-{fraction:g}", cfg, label=f"learning curve {fraction:.0%}",
                            train=Subset(exp.train, order[:n].tolist()))
        points.append({"fraction": fraction, "samples": n, f"val_{metric}": unit.val.get(metric, math.nan)})
    return summarize_curve(points, metric=metric, higher_is_better=higher, n_val=len(exp.val), thresholds=thresholds)


def summarize_curve(points: list[dict[str, Any]], *, metric: str, higher_is_better: bool, n_val: int,
                    thresholds: RegularizeThresholds) -> dict[str, Any]:
    """The curve's points, its power law, and what `more_data_factor` times the data would likely give."""
    # the power law is fitted to the error; for accuracy that is 1 - accuracy, floored at half a sample
    errors = [(1 - p[f"val_{metric}"]) if higher_is_better else p[f"val_{metric}"] for p in points]
    law = fit_power_law([p["samples"] for p in points], errors, floor=0.5 / n_val)
    out: dict[str, Any] = {"points": points, "metric": metric}
    if law is None:
        return out
    largest = points[-1]["samples"]
    predicted = law.predict(largest * thresholds.more_data_factor)
    out.update({"power_law": {"a": law.a, "b": law.b}, "more_data_factor": thresholds.more_data_factor,
                f"predicted_val_{metric}": (1 - predicted) if higher_is_better else predicted})
    return out
