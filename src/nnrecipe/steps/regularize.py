"""Step 4, regularize: give up some training loss to gain validation score, one measured change at a time.

First a learning curve (validation score at 10/25/50/100% of the training data, and a power law fitted to it
saying what more data would likely give: the recipe's best regularizer). Then, in the recipe's order, each
change is trained from the best configuration so far at constant lr, measured on the full validation set with
early stopping (best epoch kept) and kept only when it helps (see `beats`): augmentation, weight decay, the
experiment's regularizer knobs (`regularizers={"dropout": [0.1, 0.3, 0.5]}`: each value in turn, weakest first,
while each one helps), label smoothing, a smaller and a larger model (one value down or up on the first capacity
knob that can move), a smaller batch. Then the kept configuration is trained
with a one-cycle schedule (run to its end), kept only if it beats constant lr on validation, and under that
schedule the regularizers constant lr turned down are measured once more. The test split is never looked at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nnrecipe import knobs
from nnrecipe.engine.checkpoint import atomic_write_json
from nnrecipe.experiment import Experiment
from nnrecipe.results import StepResult
from nnrecipe.steps.config import Budget, TrainingConfig, budget_for
from nnrecipe.steps.context import RunContext, Settled, StepOutcome
from nnrecipe.steps.learning_curve import learning_curve
from nnrecipe.steps.speculation import speculate
from nnrecipe.steps.training import has_augmentation, label_smoothing_applies, selection_metric
from nnrecipe.steps.units import UnitResult, load_unit, run_unit


@dataclass(frozen=True)
class RegularizeThresholds:
    #: a change is kept when validation accuracy rises by more than this (0.002 = one sample in 500)
    min_gain_accuracy: float = 0.002
    #: for loss-like figures (lower is better): kept when the validation figure drops by more than this fraction
    min_gain_relative: float = 0.01
    #: accuracy within the noise margin either way (a sample in a few hundred is luck): the change is kept when the
    #: validation loss, which weighs how confidently each sample is right, drops by more than this fraction
    tie_loss_relative: float = 0.1
    #: the learning curve reports what this many times the training data would likely give
    more_data_factor: float = 2.0
    #: weight decay tried (decoupled, AdamW) and the label-smoothing share tried
    weight_decay: float = 0.05
    label_smoothing: float = 0.1


def improves(value: float, best: float, *, higher_is_better: bool, thresholds: RegularizeThresholds) -> bool:
    """Whether a candidate's validation figure beats the best so far by more than the noise margin."""
    if not math.isfinite(value):
        return False
    if higher_is_better:
        return value > best + thresholds.min_gain_accuracy
    return value < best * (1 - thresholds.min_gain_relative)


def beats(candidate: dict[str, float], best: dict[str, float], *, metric: str, higher_is_better: bool,
          thresholds: RegularizeThresholds) -> bool:
    """Whether a candidate's validation scores beat the best so far: its figure clears the noise margin, or (for
    accuracy) ties within the margin while its validation loss is clearly lower.

    Accuracy on a validation set of a few hundred samples moves in steps of a sample; two configurations a
    sample apart are indistinguishable by it, and the loss is the finer measure of which one generalizes.
    """
    value, incumbent = candidate.get(metric, math.nan), best[metric]
    if improves(value, incumbent, higher_is_better=higher_is_better, thresholds=thresholds):
        return True
    if metric == "loss" or not higher_is_better or not math.isfinite(value):
        return False
    tied = value >= incumbent - thresholds.min_gain_accuracy - 1e-12  # not worse by more than the margin
    loss, best_loss = candidate.get("loss", math.nan), best.get("loss", math.nan)
    lower = math.isfinite(loss) and math.isfinite(best_loss) and loss < best_loss * (1 - thresholds.tie_loss_relative)
    return tied and lower


# -- the candidate changes, each made from the best configuration so far (a string: why it does not apply)
Change = Callable[[Experiment, TrainingConfig, RegularizeThresholds], "TrainingConfig | str"]


def _augment(exp: Experiment, cfg: TrainingConfig, t: RegularizeThresholds) -> TrainingConfig | str:
    if not has_augmentation(exp):
        return "the experiment has no augmentation (set `augment` in the spec)"
    return "already on" if cfg.augment else cfg.replace(augment=True)


def _weight_decay(exp: Experiment, cfg: TrainingConfig, t: RegularizeThresholds) -> TrainingConfig | str:
    return cfg.replace(weight_decay=cfg.weight_decay * 10 if cfg.weight_decay else t.weight_decay)


def _label_smoothing(exp: Experiment, cfg: TrainingConfig, t: RegularizeThresholds) -> TrainingConfig | str:
    why_not = label_smoothing_applies(exp)
    if why_not is not None:
        return why_not
    return "already on" if cfg.label_smoothing else cfg.replace(label_smoothing=t.label_smoothing)


def _capacity_step(direction: Literal["down", "up"]) -> Change:
    """One value down or up on the first capacity knob (in declared order) that can move that way."""

    def change(exp: Experiment, cfg: TrainingConfig, t: RegularizeThresholds) -> TrainingConfig | str:
        capacity = knobs.declared(exp, "capacity")
        if not capacity:
            return "the experiment declares no capacity knobs (capacity={...}: keyword parameters of its model)"
        point = {**knobs.start_point(capacity), **cfg.knobs}
        for knob in capacity:
            value = knob.down(point[knob.name]) if direction == "down" else knob.up(point[knob.name])
            if value is not None:
                return cfg.replace(knobs={**point, knob.name: value})
        return f"every capacity knob is at its {'first' if direction == 'down' else 'last'} value"

    return change


def _smaller_batch(exp: Experiment, cfg: TrainingConfig, t: RegularizeThresholds) -> TrainingConfig | str:
    return cfg.replace(batch_size=cfg.batch_size // 2) if cfg.batch_size >= 4 else "the batch is already tiny"


CANDIDATES: dict[str, Change] = {
    "augment": _augment,
    "weight-decay": _weight_decay,
    "label-smoothing": _label_smoothing,
    "smaller-model": _capacity_step("down"),
    "larger-model": _capacity_step("up"),
    "smaller-batch": _smaller_batch,
}
#: the candidate that tries the experiment's regularizer knobs, value by value (see `_try_regularizers`)
REGULARIZER_KNOBS = "regularizers"
#: the suffix of a candidate re-tested under the final one-cycle schedule
ONE_CYCLE = "one-cycle"


@dataclass(frozen=True)
class RegularizeFindings:
    """What step 4 found, for step 5 to search: each configuration field (and `knob:NAME` for the experiment's own
    knobs) whose change moved the validation score past the noise margin, either way, with why."""

    mattered: Mapping[str, str]


def run_regularize(run: RunContext, settled: Settled,
                   thresholds: RegularizeThresholds = RegularizeThresholds()) -> StepOutcome[RegularizeFindings]:
    exp, budget = run.experiment, budget_for(run.budget)
    # step 3 found no model that fits (and --force went on): start from the experiment's
    start = settled.config if settled.config is not None else TrainingConfig(batch_size=exp.batch_size)
    metric, higher = selection_metric(exp)
    base = start.replace(epochs=budget.epochs, patience=budget.patience, schedule="constant")
    judge = _Judge(metric, higher, thresholds)
    # with worker processes, the candidates after the one in training are trained ahead, guessed turned down
    explored = speculate(run, lambda r: _explore(r, base, judge, budget))
    if explored.best is None:
        baseline = explored.baseline
        return StepOutcome(StepResult("regularize", "fail", f"the baseline training diverged (val {metric} "
                                      f"{baseline.val.get(metric)}); lower the learning rate",
                                      details={"curve": explored.curve}), config=start)
    return _settle(run, explored.best, explored.baseline, explored.rows, explored.curve, judge)


@dataclass(frozen=True)
class _Explored:
    """Step 4's trainings: the baseline, the learning curve, a row per candidate and the best (None: the
    baseline diverged, nothing else was tried)."""

    baseline: UnitResult
    curve: dict[str, Any]
    rows: list[dict[str, Any]]
    best: UnitResult | None


def _explore(run: RunContext, base: TrainingConfig, judge: _Judge, budget: Budget) -> _Explored:
    """Every training of step 4, in order: a function of the units' results alone (see `steps.speculation`)."""
    baseline = run_unit(run, "regularize/baseline", base, label=f"baseline: {base.describe()}",
                        recorders=_recorders(run))
    curve = learning_curve(run, base, baseline, budget=budget, thresholds=judge.thresholds)
    if not math.isfinite(baseline.val.get(judge.metric, math.nan)):
        return _Explored(baseline, curve, [], None)
    rows = [_row("baseline", baseline, judge.metric, kept=True, note="step 3's model, early stopping")]
    best = _try_candidates(run, baseline, rows, judge, budget)
    return _Explored(baseline, curve, rows, best)


def _try_candidates(run: RunContext, best: UnitResult, rows: list[dict[str, Any]], judge: _Judge,
                    budget: Budget) -> UnitResult:
    """Each candidate change in the recipe's order, then the one-cycle schedule, then a re-test under it of the
    changes constant lr turned down."""
    turned_down: list[str] = []
    knob_turned_down: list[tuple[str, Any]] = []  # (regularizer knob, the value it was turned down at)
    for name in budget.candidates:
        before = best
        if name == REGULARIZER_KNOBS:
            best = _try_regularizers(run, best, rows, judge, steps=budget.regularizer_steps,
                                     turned_down=knob_turned_down)
        else:
            best = _try(run, name, CANDIDATES[name], best, rows, judge)
        if best is before:
            turned_down.append(name)
    best = _try_schedule(run, best, rows, judge, budget)
    if best.config.schedule == "onecycle":
        # A regularizer judged at constant lr with early stopping is judged on a model that never settled, and
        # one that makes the task harder (augmentation, label smoothing, weight decay, dropout) pays off only as
        # the learning rate anneals: those turned down are measured again under the final schedule.
        for name in (n for n in budget.retest_under_schedule if n in CANDIDATES and n in turned_down):
            best = _try(run, name, CANDIDATES[name], best, rows, judge, suffix=ONE_CYCLE)
        if REGULARIZER_KNOBS in budget.retest_under_schedule:
            for knob, value in knob_turned_down:
                best = _try_knob(run, knob, value, best, rows, judge, suffix=ONE_CYCLE)
    return best


@dataclass(frozen=True)
class _Judge:
    """Whether a candidate's validation scores beat the best so far (see `beats`)."""

    metric: str
    higher_is_better: bool
    thresholds: RegularizeThresholds

    def __call__(self, candidate: dict[str, float], best: dict[str, float]) -> bool:
        return beats(candidate, best, metric=self.metric, higher_is_better=self.higher_is_better,
                     thresholds=self.thresholds)


def _try(run: RunContext, name: str, change: Change, best: UnitResult, rows: list[dict[str, Any]], judge: _Judge,
         *, suffix: str = "") -> UnitResult:
    """Train `change` applied to the best configuration so far; it becomes the best only if it beats it."""
    made = change(run.experiment, best.config, judge.thresholds)
    label = f"{name} ({suffix})" if suffix else name
    if isinstance(made, str):
        if not suffix:  # a re-test that does not apply (already on, say) is no news
            rows.append({"change": label, "config": best.config.describe(), "kept": False, "note": f"not tried: {made}"})
        return best
    return _train_candidate(run, f"regularize/{name}" + (f"-{suffix}" if suffix else ""), label, made, best, rows,
                            judge)


def _try_regularizers(run: RunContext, best: UnitResult, rows: list[dict[str, Any]], judge: _Judge, *, steps: int,
                      turned_down: list[tuple[str, Any]]) -> UnitResult:
    """Each regularizer knob in declared order: its values, weakest first, each kept only while it helps."""
    declared = knobs.declared(run.experiment, "regularizers")
    if not declared:
        rows.append({"change": REGULARIZER_KNOBS, "config": best.config.describe(), "kept": False,
                     "note": "not tried: the experiment declares no regularizer knobs (regularizers={...}: keyword "
                             "parameters of its model, such as dropout)"})
        return best
    for knob in declared:
        for _ in range(steps):
            value = _next_value(knob, best.config)
            if value is None:
                break
            before, best = best, _try_knob(run, knob.name, value, best, rows, judge)
            if best is before:
                turned_down.append((knob.name, value))
                break
    return best


def _next_value(knob: knobs.Knob, cfg: TrainingConfig) -> Any | None:
    """The knob's next value after the configuration's (after the factory's default when the config leaves it)."""
    if knob.name in cfg.knobs:
        return knob.up(cfg.knobs[knob.name])
    return knob.up(knob.default) if knob.known_default else knob.values[0]


def _try_knob(run: RunContext, name: str, value: Any, best: UnitResult, rows: list[dict[str, Any]], judge: _Judge,
              *, suffix: str = "") -> UnitResult:
    made = best.config.replace(knobs={**best.config.knobs, name: value})
    label = f"{name} {knobs.fmt(value)}" + (f" ({suffix})" if suffix else "")
    key = f"regularize/{name}={knobs.fmt(value)}" + (f"-{suffix}" if suffix else "")
    return _train_candidate(run, key, label, made, best, rows, judge)


def _train_candidate(run: RunContext, key: str, label: str, made: TrainingConfig, best: UnitResult,
                     rows: list[dict[str, Any]], judge: _Judge) -> UnitResult:
    unit = run_unit(run, key, made, label=f"{label}: {made.describe()}", recorders=_recorders(run))
    kept = judge(unit.val, best.val)
    rows.append(_row(label, unit, judge.metric, kept=kept, note=_versus(best, judge.metric),
                     varies=varied(run.experiment, best.config, made)))
    return unit if kept else best


def varied(exp: Experiment, before: TrainingConfig, after: TrainingConfig) -> list[str]:
    """What a candidate changed: `knob:NAME` for each knob that moved, and the configuration fields that did
    (step 5 searches what moved the validation score)."""
    defaults = {k.name: k.default for k in knobs.declared(exp)}
    moved = [f"knob:{name}" for name in dict.fromkeys([*before.knobs, *after.knobs])
             if before.knobs.get(name, defaults.get(name)) != after.knobs.get(name, defaults.get(name))]
    a, b = before.to_dict(), after.to_dict()
    return moved + [name for name in a if name != "knobs" and a[name] != b[name]]


def _try_schedule(run: RunContext, best: UnitResult, rows: list[dict[str, Any]], judge: _Judge,
                  budget: Budget) -> UnitResult:
    """The kept configuration over the full budget with a one-cycle schedule, at each peak learning rate."""
    metric = judge.metric
    constant = best
    for peak in budget.onecycle_peaks:
        cfg = constant.config.replace(schedule="onecycle", lr=constant.config.lr * peak, epochs=budget.final_epochs,
                                      patience=None)
        unit = run_unit(run, f"regularize/onecycle-{peak:g}", cfg, label=f"one-cycle: {cfg.describe()}",
                        recorders=_recorders(run))
        kept = judge(unit.val, best.val)
        note = f"{budget.final_epochs} epochs, peak lr {cfg.lr:g}; {_versus(best, metric)}"
        rows.append(_row("one-cycle schedule", unit, metric, kept=kept, note=note))
        best = unit if kept else best
    return best


def _recorders(run: RunContext) -> list[Any]:
    return list(run.recorders(run.experiment))


def _versus(best: UnitResult, metric: str) -> str:
    """What a candidate was measured against: the best so far (and its loss, the tie-breaker for accuracy)."""
    text = f"vs best so far {best.val[metric]:.4g}"
    if metric != "loss" and math.isfinite(best.val.get("loss", math.nan)):
        text += f" (val loss {best.val['loss']:.3g})"
    return text


def _row(change: str, unit: UnitResult, metric: str, *, kept: bool, note: str,
         varies: list[str] | None = None) -> dict[str, Any]:
    row = {"change": change, "config": unit.config.describe(), f"val_{metric}": unit.val.get(metric, math.nan),
           "val_loss": unit.val.get("loss", math.nan), "best_epoch": unit.best_epoch, "epochs": unit.epochs_run,
           "kept": kept, "note": note}
    if varies is not None:
        row["varies"] = varies
    return row


def _settle(run: RunContext, best: UnitResult, baseline: UnitResult, rows: list[dict[str, Any]],
            curve: dict[str, Any], judge: _Judge) -> StepOutcome[RegularizeFindings]:
    """The best model becomes the run's model; its configuration and what mattered go to the steps after."""
    metric = judge.metric
    model, recordings = load_unit(run, best)
    path = run.path("config.json")
    if path is not None:
        atomic_write_json(path, {"config": best.config.to_dict(), "val": best.val, "unit": best.key})
    kept = [r["change"] for r in rows[1:] if r.get("kept")]
    summary = (f"val {metric} {baseline.val[metric]:.4g} -> {best.val[metric]:.4g}; kept: "
               f"{', '.join(kept) or 'nothing (no change helped)'}; final: {best.config.describe()}")
    if "predicted_val_" + metric in curve:
        summary += (f"; learning curve: {curve['more_data_factor']:g}x the training data would likely take the "
                    f"baseline's val {metric} from {baseline.val[metric]:.4g} to {curve['predicted_val_' + metric]:.4g}")
    details = {"tried": rows, "learning_curve": curve, "config": best.config.to_dict()}
    findings = RegularizeFindings(what_mattered(rows, metric=metric, higher_is_better=judge.higher_is_better,
                                                thresholds=judge.thresholds))
    return StepOutcome(StepResult("regularize", "pass", summary, details=details), model=model, config=best.config,
                       findings=findings, recordings=recordings,
                       pictures={"tried": rows, "learning_curve": curve, "histories": {"final": best.records}})


#: step 4's candidate -> the TrainingConfig field it varies, for tables written before each row said so ("varies")
_VARIES = {"augment": "augment", "label-smoothing": "label_smoothing", "smaller-batch": "batch_size"}


def what_mattered(tried: Sequence[Mapping[str, Any]], *, metric: str, higher_is_better: bool,
                  thresholds: RegularizeThresholds) -> dict[str, str]:
    """What step-4 candidates varied (their rows' "varies": configuration fields and `knob:NAME`) when they moved
    the validation score past the noise margin, either way, with why. Read from step 4's own table, so that
    `nnrecipe tune` on a run folder finds the same in its result.json.

    Each candidate was measured against the best configuration at the time it ran: the baseline, or the last
    candidate that was kept.
    """
    key = f"val_{metric}"
    best: float | None = None
    found: dict[str, str] = {}
    for row in tried:
        value = row.get(key)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        if best is None:  # the baseline
            best = float(value)
            continue
        name = str(row.get("change", "")).removesuffix(f" ({ONE_CYCLE})")  # a re-test under the final schedule counts
        moved = (improves(value, best, higher_is_better=higher_is_better, thresholds=thresholds)
                 or improves(best, value, higher_is_better=higher_is_better, thresholds=thresholds))
        for field_name in row.get("varies", [_VARIES[name]] if name in _VARIES else []) if moved else ():
            found.setdefault(str(field_name), f"step 4: {name} moved val {metric} {best:.4g} -> {value:.4g}")
        if row.get("kept"):
            best = float(value)
    return found
