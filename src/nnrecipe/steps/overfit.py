"""Step 3, overfit: find a model large enough to fit the training set, complexifying one change at a time.

Plain training only (Adam 3e-4, constant learning rate, no augmentation, no regularization), as the recipe
says. The ablation ladder climbs from a small model upward, one change per rung (input resolution for signals
and images, then width or depth, through the experiment's `meta["model_family"]`; a spec without one brings
only its own model, a ladder of one rung), and stops at the first full-resolution rung that fits the training
set. Each rung's training loss and validation score go in the table; a rung that does not lower the training
loss is flagged. The step fails when no full-resolution rung fits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from nnrecipe.engine.data import all_targets, loss_fn
from nnrecipe.engine.seeding import seeded
from nnrecipe.experiment import Experiment
from nnrecipe.results import StepResult
from nnrecipe.steps.config import TrainingConfig, budget_for
from nnrecipe.steps.resolution import resolution_applies
from nnrecipe.steps.state import RunState
from nnrecipe.steps.training import FitTest, model_factory, selection_metric
from nnrecipe.steps.units import UnitResult, load_unit, run_unit

RECIPE_LR = 3e-4  # "Adam with a learning rate of 3e-4": the recipe's safe default


@dataclass(frozen=True)
class OverfitThresholds:
    #: training accuracy (classification, sequence) at which the training set counts as fit
    fit_accuracy: float = 0.99
    #: regression: the training loss counts as fit at this fraction of the mean predictor's loss (R² >= 0.95 for MSE)
    fit_loss_fraction: float = 0.05
    #: any task: a model whose training loss is at most this fraction of its validation loss overfits, which is
    #: what step 3 looks for (data with label noise or a noise floor never reaches the two figures above)
    overfit_gap: float = 0.5
    #: a rung must lower the previous rung's training loss by at least this fraction, else it is flagged
    min_loss_drop: float = 0.02


@dataclass(frozen=True)
class Rung:
    change: str
    width: float | None
    depth: int | None
    #: the share of the input's resolution (signals and images start at half)
    resolution: float = 1.0


def ladder(exp: Experiment, *, max_rungs: int) -> list[Rung]:
    """Rungs from small upward, one change each: half width, the experiment's model, then depth and width in turn.

    For signals and images the ladder starts lower still: half width at half the input resolution, then the
    full resolution; a reduced-resolution rung never ends the ladder, since the run goes on at full resolution.
    """
    family = exp.meta.get("model_family")
    if family is None:
        return [Rung("the experiment's own model", None, None)]
    rungs = _model_rungs(family)
    if resolution_applies(exp):
        small = rungs[0]
        rungs = [Rung(f"{small.change}, half the input resolution", small.width, small.depth, resolution=0.5),
                 Rung("full input resolution", small.width, small.depth), *rungs[1:]]
    return rungs[:max_rungs]


def _model_rungs(family: Callable[..., Any]) -> list[Rung]:
    depth = _default_depth(family)
    if depth is None:  # depth unknown: widths only
        rungs = [Rung("half width", 0.5, None), Rung("width x2 (the experiment's model)", 1.0, None)]
        return rungs + [Rung("width x2", w, None) for w in (2.0, 4.0, 8.0)]
    return [Rung("half width", 0.5, depth), Rung("width x2 (the experiment's model)", 1.0, depth),
            Rung("one more block", 1.0, depth + 1), Rung("width x2", 2.0, depth + 1),
            Rung("one more block", 2.0, depth + 2), Rung("width x2", 4.0, depth + 2)]


def _default_depth(family: Callable[..., Any]) -> int | None:
    """The family's default depth, when its factory says (a functools.partial with a `depth` keyword)."""
    keywords = getattr(family(), "keywords", None)
    depth = keywords.get("depth") if isinstance(keywords, dict) else None
    return depth if isinstance(depth, int) else None


def model_label(cfg: TrainingConfig) -> str:
    resolution = [f"input resolution {cfg.resolution:g}"] if cfg.resolution < 1.0 else []
    if cfg.width is None and cfg.depth is None:
        return ", ".join(["the experiment's model", *resolution])
    return ", ".join(([] if cfg.width is None else [f"width {cfg.width:g}"])
                     + ([] if cfg.depth is None else [f"depth {cfg.depth}"]) + resolution)


def mean_predictor_loss(exp: Experiment) -> float:
    """The loss of predicting the mean training target everywhere: the regression fit test's yardstick."""
    targets = all_targets(exp.train).float()
    mean = targets.mean(dim=0, keepdim=True).expand_as(targets)
    return float(loss_fn(exp)(mean, targets))


def fit_test(exp: Experiment, thresholds: OverfitThresholds) -> FitTest:
    """Fit: training accuracy near 100% (a low training loss for regression), or a model that clearly overfits."""
    if exp.task == "regression":
        limit = thresholds.fit_loss_fraction * mean_predictor_loss(exp)

        def fits(train: dict[str, float]) -> bool:
            return train["loss"] <= limit
    else:

        def fits(train: dict[str, float]) -> bool:
            return train.get("accuracy", 0.0) >= thresholds.fit_accuracy

    return lambda train, val: fits(train) or overfits(train, val, gap=thresholds.overfit_gap)


def overfits(train: dict[str, float], val: dict[str, float], *, gap: float) -> bool:
    """The training loss is at most `gap` times the validation loss."""
    val_loss = val.get("loss", math.nan)
    return math.isfinite(val_loss) and math.isfinite(train["loss"]) and train["loss"] <= gap * val_loss


def flag_rungs(train_losses: list[float], *, min_loss_drop: float) -> list[bool]:
    """True for each rung whose training loss is not lower than the previous rung's by `min_loss_drop`."""
    flags = [False]
    for before, after in pairwise(train_losses):
        flags.append(not (math.isfinite(after) and after < before * (1 - min_loss_drop)))
    return flags[: len(train_losses)]


def judge(rows: list[dict[str, Any]], *, epochs: int) -> tuple[str, str]:
    """(status, summary) from the ladder's rows: pass when some rung fit the training set."""
    tried = "; ".join(f"{r['model']}: train loss {r['train_loss']:.3g}" for r in rows)
    fitted = [r for r in rows if r["fit"] and r.get("resolution", 1.0) >= 1.0]  # the run goes on at full resolution
    flagged = [r["model"] for r in rows if r["flag"]]
    note = f"; flagged (did not lower the training loss): {', '.join(flagged)}" if flagged else ""
    if not fitted:
        return "fail", f"no rung fit the training set within {epochs} epochs; tried {tried}{note}"
    first = fitted[0]
    score = ", ".join(f"{k.replace('_', ' ')} {first[k]:.4g}" for k in ("train_accuracy", "train_loss", "val_loss")
                      if k in first)
    return "pass", f"{first['model']} fits the training set ({score}) after {first['epochs']} epochs{note}"


def run_overfit(state: RunState, thresholds: OverfitThresholds = OverfitThresholds()) -> StepResult:
    exp, budget = state.experiment, budget_for(state.ctx.budget)
    test = fit_test(exp, thresholds)
    rows: list[dict[str, Any]] = []
    units: list[UnitResult] = []
    for i, rung in enumerate(ladder(exp, max_rungs=budget.ladder_rungs)):
        cfg = TrainingConfig(width=rung.width, depth=rung.depth, lr=RECIPE_LR, batch_size=exp.batch_size,
                             epochs=budget.overfit_epochs, resolution=rung.resolution)
        unit = run_unit(state, f"overfit/rung-{i}", cfg, label=f"overfit rung {i}: {cfg.describe()}", fit_test=test)
        units.append(unit)
        rows.append(_row(exp, i, rung, unit, fitted=test(unit.train or {"loss": math.inf}, unit.val)))
        if rows[-1]["fit"] and rung.resolution >= 1.0:
            break
    flags = flag_rungs([r["train_loss"] for r in rows], min_loss_drop=thresholds.min_loss_drop)
    for row, flag in zip(rows, flags, strict=True):
        row["flag"] = flag
    status, summary = judge(rows, epochs=budget.overfit_epochs)
    fitted = [u for u, r in zip(units, rows, strict=True) if r["fit"] and u.config.resolution >= 1.0]
    if fitted:  # the fitted model is the run's model until step 4 settles on a better one
        state.config = fitted[0].config
        state.model, _ = load_unit(state, fitted[0])
    details = {"ladder": rows, "optimizer": f"Adam lr {RECIPE_LR:g}, constant", "max_epochs": budget.overfit_epochs}
    if status == "fail":
        details["fix"] = ("no model fit the training set: look for a bug first (labels, loss, learning rate), then "
                          "give the model more capacity or more epochs (--budget long)")
    return StepResult("overfit", status, summary, details=details,  # type: ignore[arg-type]
                      artifacts={"ladder": rows, "histories": {u.key: u.records for u in units}})


def _row(exp: Experiment, index: int, rung: Rung, unit: UnitResult, *, fitted: bool) -> dict[str, Any]:
    metric, _ = selection_metric(exp)
    train = unit.train or {}
    row: dict[str, Any] = {"rung": index, "change": rung.change, "model": model_label(unit.config),
                           "params": _params(exp, unit.config), "resolution": unit.config.resolution,
                           "epochs": unit.epochs_run,
                           "train_loss": train.get("loss", math.nan)}
    if "accuracy" in train:
        row["train_accuracy"] = train["accuracy"]
    row[f"val_{metric}"] = unit.val.get(metric, math.nan)
    row["val_loss"] = unit.val.get("loss", math.nan)
    row["fit"] = fitted
    row["flag"] = False
    return row


def _params(exp: Experiment, cfg: TrainingConfig) -> int:
    with seeded(0):  # building draws random numbers: leave the global state as found
        model = model_factory(exp, cfg)()
    return sum(p.numel() for p in model.parameters())
