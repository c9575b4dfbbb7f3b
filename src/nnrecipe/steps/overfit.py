"""Step 3, overfit: find a model large enough to fit the training set, complexifying one change at a time.

Plain training only (Adam 3e-4, constant learning rate, no augmentation, no regularization), as the recipe
says. The ablation ladder climbs the experiment's capacity knobs (`capacity={"hidden": [16, 32, 64], ...}`,
keyword parameters of its model factory) one change per rung: it starts one value below the experiment's own
model on the first knob that can go lower, goes back up to the experiment's model, then raises the knobs in
turn, one value per rung, and stops at the first full-resolution rung that fits the training set. For signals
and images the bottom rung first sees half the input resolution. Without capacity knobs the experiment brings
only its own model: a ladder of one rung. Each rung's training loss and validation score go in the table; a
rung that does not lower the training loss is flagged. The step fails when no full-resolution rung fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from nnrecipe import knobs
from nnrecipe.engine.data import all_targets, loss_fn
from nnrecipe.experiment import Experiment
from nnrecipe.results import StepResult
from nnrecipe.seeding import seeded
from nnrecipe.steps.config import TrainingConfig, budget_for
from nnrecipe.steps.context import RunContext, StepOutcome
from nnrecipe.steps.resolution import resolution_applies
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
    #: the capacity knobs' values (empty: the experiment's own model, no knobs declared)
    knobs: dict[str, Any] = field(default_factory=dict)
    #: the share of the input's resolution (signals and images start at half)
    resolution: float = 1.0


def ladder(exp: Experiment, *, max_rungs: int) -> list[Rung]:
    """Rungs from small upward, one change each: one value below the experiment's model on the first capacity
    knob that can go lower, the experiment's model, then each knob one value up in turn (in declared order,
    starting after the knob that went down), skipping knobs at their last value.

    For signals and images the ladder starts lower still: the bottom rung at half the input resolution, then at
    the full one; a reduced-resolution rung never ends the ladder, since the run goes on at full resolution.
    """
    capacity = knobs.declared(exp, "capacity")
    if not capacity:
        return [Rung("the experiment's own model (no capacity knobs declared)")]
    rungs = _knob_rungs(capacity, max_rungs=max_rungs)
    if resolution_applies(exp):
        bottom = rungs[0]
        rungs = [Rung(f"{bottom.change}, half the input resolution", bottom.knobs, resolution=0.5),
                 Rung("full input resolution", bottom.knobs), *rungs[1:]]
    return rungs[:max_rungs]


def _knob_rungs(capacity: list[knobs.Knob], *, max_rungs: int) -> list[Rung]:
    point = knobs.start_point(capacity)
    own = " (the experiment's model)" if knobs.is_own_model(capacity, point) else ""
    lowered = next((k for k in capacity if k.down(point[k.name]) is not None), None)
    rungs: list[Rung] = []
    turn = 0
    if lowered is not None:
        below = lowered.down(point[lowered.name])
        rungs.append(Rung(f"{lowered.name} {knobs.fmt(below)}, one below the experiment's model",
                          {**point, lowered.name: below}))
        rungs.append(Rung(f"{lowered.name} {knobs.fmt(below)} -> {knobs.fmt(point[lowered.name])}{own}", dict(point)))
        turn = capacity.index(lowered) + 1
    else:
        rungs.append(Rung(f"{knobs.describe(point)}{own}", dict(point)))
    while len(rungs) < max_rungs + 1:  # one spare: a resolution rung may be added at the bottom
        order = [capacity[(turn + i) % len(capacity)] for i in range(len(capacity))]
        knob = next((k for k in order if k.up(point[k.name]) is not None), None)
        if knob is None:  # every knob at its last value
            break
        value = knob.up(point[knob.name])
        rungs.append(Rung(f"{knob.name} {knobs.fmt(point[knob.name])} -> {knobs.fmt(value)}",
                          {**point, knob.name: value}))
        point = rungs[-1].knobs
        turn = capacity.index(knob) + 1
    return rungs


def model_label(exp: Experiment, cfg: TrainingConfig) -> str:
    resolution = [f"input resolution {cfg.resolution:g}"] if cfg.resolution < 1.0 else []
    capacity = knobs.declared(exp, "capacity")
    point = {k.name: cfg.knobs[k.name] for k in capacity if k.name in cfg.knobs}
    if not point or knobs.is_own_model(capacity, point):
        return ", ".join(["the experiment's model", *resolution])
    return ", ".join([knobs.describe(point), *resolution])


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


def judge(rows: list[dict[str, Any]], *, epochs: int, larger: bool = True) -> tuple[str, str]:
    """(status, summary) from the ladder's rows: pass when some rung fit the training set.

    "If we are not able to reach a low error rate with any model at all" is the recipe's alarm: a fail needs a
    ladder that tried larger models (`larger`). The experiment's own model alone, with no capacity knob to
    climb, not fitting the training set in the step's budget is a warn: it says what to declare, and the run
    goes on with that model.
    """
    tried = "; ".join(f"{r['model']}: train loss {r['train_loss']:.3g}" for r in rows)
    fitted = [r for r in rows if r["fit"] and r.get("resolution", 1.0) >= 1.0]  # the run goes on at full resolution
    flagged = [r["model"] for r in rows if r["flag"]]
    note = f"; flagged (did not lower the training loss): {', '.join(flagged)}" if flagged else ""
    if not fitted and not larger:
        return "warn", (f"the experiment's own model did not fit the training set within {epochs} epochs ({tried}), "
                        f"and it declares no capacity knob for a larger one{note}")
    if not fitted:
        return "fail", f"no rung fit the training set within {epochs} epochs; tried {tried}{note}"
    first = fitted[0]
    score = ", ".join(f"{k.replace('_', ' ')} {first[k]:.4g}" for k in ("train_accuracy", "train_loss", "val_loss")
                      if k in first)
    return "pass", f"{first['model']} fits the training set ({score}) after {first['epochs']} epochs{note}"


@dataclass(frozen=True)
class OverfitFindings:
    """What step 3 found: the rung that fit the training set at full resolution (None: none did)."""

    fitted_rung: int | None
    #: whether the experiment declares capacity knobs, so a larger model could have been tried
    could_grow: bool


def run_overfit(run: RunContext, thresholds: OverfitThresholds = OverfitThresholds()) -> StepOutcome[OverfitFindings]:
    exp, budget = run.experiment, budget_for(run.budget)
    rows, units = _climb(run, fit_test(exp, thresholds), max_rungs=budget.ladder_rungs, epochs=budget.overfit_epochs)
    flags = flag_rungs([r["train_loss"] for r in rows], min_loss_drop=thresholds.min_loss_drop)
    for row, flag in zip(rows, flags, strict=True):
        row["flag"] = flag
    larger = bool(knobs.declared(exp, "capacity"))
    status, summary = judge(rows, epochs=budget.overfit_epochs, larger=larger)
    fitted = [(i, u) for i, (u, r) in enumerate(zip(units, rows, strict=True)) if r["fit"] and u.config.resolution >= 1.0]
    findings = OverfitFindings(fitted[0][0] if fitted else None, could_grow=larger)
    if not fitted and not larger and units:  # the only model there is goes on to step 4
        fitted = [(len(units) - 1, units[-1])]
    details: dict[str, Any] = {"ladder": rows, "optimizer": f"Adam lr {RECIPE_LR:g}, constant",
                               "max_epochs": budget.overfit_epochs}
    if status != "pass":
        details["fix"] = _fix(exp)
    result = StepResult("overfit", status, summary, details=details)  # type: ignore[arg-type]
    pictures = {"ladder": rows, "histories": {u.key: u.records for u in units}}
    if not fitted:
        return StepOutcome(result, findings=findings, pictures=pictures)
    # the fitted model is the run's model until step 4 settles on a better one
    unit = fitted[0][1]
    model, _ = load_unit(run, unit)
    return StepOutcome(result, model=model, config=unit.config, findings=findings, pictures=pictures)


def _climb(run: RunContext, test: FitTest, *, max_rungs: int,
           epochs: int) -> tuple[list[dict[str, Any]], list[UnitResult]]:
    """Train the ladder's rungs from the bottom; stop at the first full-resolution rung that fits."""
    exp = run.experiment
    rows: list[dict[str, Any]] = []
    units: list[UnitResult] = []
    for i, rung in enumerate(ladder(exp, max_rungs=max_rungs)):
        cfg = TrainingConfig(knobs=dict(rung.knobs), lr=RECIPE_LR, batch_size=exp.batch_size, epochs=epochs,
                             resolution=rung.resolution)
        unit = run_unit(run, f"overfit/rung-{i}", cfg, label=f"overfit rung {i}: {cfg.describe()}", fit_test=test)
        units.append(unit)
        rows.append(_row(exp, i, rung, unit, fitted=test(unit.train or {"loss": math.inf}, unit.val)))
        if rows[-1]["fit"] and rung.resolution >= 1.0:
            break
    return rows, units


def _fix(exp: Experiment) -> str:
    more = ("declare capacity knobs (capacity={...}: keyword parameters of the model factory) for the ladder "
            "to climb" if not knobs.declared(exp, "capacity") else "--budget long climbs more rungs")
    return ("no model fit the training set: look for a bug first (labels, loss, learning rate), then "
            f"give the model more capacity or more epochs ({more})")


def _row(exp: Experiment, index: int, rung: Rung, unit: UnitResult, *, fitted: bool) -> dict[str, Any]:
    metric, _ = selection_metric(exp)
    train = unit.train or {}
    row: dict[str, Any] = {"rung": index, "change": rung.change, "model": model_label(exp, unit.config),
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
