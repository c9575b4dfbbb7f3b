"""Step 6, squeeze out the juice: an ensemble, distillation into one model, and training longer.

- Ensemble: the top-k completed trials of step 5 that score close to the best one (their kept weights; a
  trial run on another machine is trained again here from its configuration and seed), filled up with more
  seeds of the best configuration; their softmax probabilities are averaged (the outputs, for regression).
- Distillation: the ensemble's soft predictions at a temperature teach one model of the best single model's
  size, on the same (augmented) batches the ensemble sees, mixed with the true labels.
- Train longer: the best configuration with a longer budget: early stopping on validation at constant lr; a
  one-cycle schedule is stretched over the longer budget and runs to its end.

Every model is scored on validation and, for the table only, on test. The run's final model is chosen on
validation alone: the ensemble, unless another model beats it by more than step 4's noise margin. All of them
are saved in the run folder's `final/`, loadable with `nnrecipe.load(run_dir)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from nnrecipe.engine.ensemble import Ensemble
from nnrecipe.engine.loop import evaluate
from nnrecipe.results import StepResult
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.context import RunContext, Settled, StepOutcome
from nnrecipe.steps.distill import DISTILL, DistillSettings, Teacher, pack_state
from nnrecipe.steps.final_models import choose, save_model
from nnrecipe.steps.regularize import RegularizeThresholds, improves
from nnrecipe.steps.speculation import speculate
from nnrecipe.steps.training import selection_metric, split_scores
from nnrecipe.steps.tune import NOISE, TunedTrial, TuneFindings
from nnrecipe.steps.units import UnitResult, load_unit, run_unit


@dataclass(frozen=True, kw_only=True)
class SqueezeBudget:
    """How much squeezing `--budget quick|default|long` allows."""

    #: models in the ensemble
    ensemble_size: int
    #: the longer training runs the best configuration's epochs times this ...
    longer_factor: float
    #: ... and stops after this many epochs without a better validation score
    longer_patience: int


SQUEEZE_BUDGETS: dict[str, SqueezeBudget] = {
    "quick": SqueezeBudget(ensemble_size=3, longer_factor=1.5, longer_patience=10),
    "default": SqueezeBudget(ensemble_size=5, longer_factor=2.0, longer_patience=20),
    "long": SqueezeBudget(ensemble_size=8, longer_factor=3.0, longer_patience=30),
}


@dataclass(frozen=True, kw_only=True)
class EnsembleSettings:
    """Which trials join the ensemble: a weak member drags the average down, a seed of the best helps."""

    #: a trial joins when its validation accuracy is at most this far below the best trial's ...
    member_margin_accuracy: float = 0.005
    #: ... or, for loss-like figures, at most this fraction above the best trial's
    member_margin_relative: float = 0.1


ENSEMBLE = EnsembleSettings()


def close_to_best(value: float | None, best: float, *, higher_is_better: bool,
                  settings: EnsembleSettings = ENSEMBLE) -> bool:
    if value is None or not math.isfinite(value):
        return False
    if higher_is_better:
        return value >= best - settings.member_margin_accuracy
    return value <= best * (1 + settings.member_margin_relative)


@dataclass
class Member:
    """One trained model: where it came from, its configuration, and its validation scores."""

    label: str
    config: TrainingConfig
    seed: int
    model: nn.Module
    val: dict[str, float]


# -- the ensemble


@dataclass(frozen=True)
class MemberPlan:
    """The ensemble's members before any training: the trials picked (their kept weights, None where they are on
    another machine), and the configuration and seed more seeds and the longer training start from."""

    picked: list[TunedTrial]
    kept: dict[int, nn.Module | None]
    best: TrainingConfig
    best_seed: int
    k: int


def plan_members(run: RunContext, tuned: TuneFindings | None, best_config: TrainingConfig | None, *, k: int,
                 settings: EnsembleSettings = ENSEMBLE) -> MemberPlan:
    """The k best completed trials that score close to the best one; seeds of the best configuration fill up."""
    picked = _picked(tuned, k, settings)
    kept = {t.number: tuned.model(t, run.experiment, device=run.device) for t in picked} if tuned is not None else {}
    best = picked[0].config if picked else best_config
    assert best is not None, "squeeze needs a configuration from step 4 or 5"
    return MemberPlan(picked, kept, best, picked[0].seed if picked else _seed_of(run, 0), k)


def ensemble_members(run: RunContext, plan: MemberPlan, *,
                     ahead: Sequence[Callable[[RunContext], Any]] = ()) -> list[Member]:
    """The planned members: kept trials as they are, the others trained (trials trained again here from their
    configuration and seed, more seeds of the best configuration). With workers, `ahead`'s units start beside
    theirs, first: the longer training is the step's longest unit, and waits on nothing."""
    units = speculate(run, lambda r: _member_units(r, plan), ahead=ahead, ahead_first=True)
    members: list[Member] = []
    for trial in plan.picked:
        model = plan.kept[trial.number]
        if model is not None:
            members.append(Member(f"trial {trial.number}", trial.config, trial.seed, model,
                                  evaluate(model, run.experiment.val, run.experiment, device=run.device)))
        else:
            unit = units[f"squeeze/trial-{trial.number}"]
            members.append(Member(f"trial {trial.number}", trial.config, trial.seed, load_unit(run, unit)[0],
                                  dict(unit.val)))
    for i in range(len(members), plan.k):
        unit = units[f"squeeze/seed-{i}"]
        members.append(Member(f"best configuration, seed {i}", plan.best, _seed_of(run, i), load_unit(run, unit)[0],
                              dict(unit.val)))
    return members


def _seed_of(run: RunContext, i: int) -> int:
    return run.ctx.derive("squeeze-seed", i)


def _picked(tuned: TuneFindings | None, k: int, settings: EnsembleSettings) -> list[TunedTrial]:
    """The k best completed trials among those close to the best one."""
    if tuned is None or not tuned.ranked:
        return []
    best_value = float(tuned.ranked[0].value)
    return [t for t in tuned.ranked if close_to_best(t.value, best_value, higher_is_better=tuned.higher_is_better,
                                                     settings=settings)][:k]


def _member_units(run: RunContext, plan: MemberPlan) -> dict[str, UnitResult]:
    """The members to train: trials whose weights are elsewhere, and more seeds of the best configuration."""
    units: dict[str, UnitResult] = {}
    for trial in plan.picked:
        if plan.kept.get(trial.number) is None:
            key = f"squeeze/trial-{trial.number}"
            units[key] = run_unit(run, key, trial.config, seed=trial.seed,
                                  label=f"trial {trial.number} (trained elsewhere): {trial.config.describe()}")
    for i in range(len(plan.picked), plan.k):
        units[f"squeeze/seed-{i}"] = run_unit(run, f"squeeze/seed-{i}", plan.best, seed=_seed_of(run, i),
                                              label=f"seed {i}: {plan.best.describe()}")
    return units


def train_longer(run: RunContext, plan: MemberPlan, budget: SqueezeBudget) -> UnitResult:
    """The best configuration trained longer: its epochs times the budget's factor, with early stopping (a
    one-cycle schedule is stretched over them and runs to its end)."""
    cfg = plan.best.replace(epochs=math.ceil(plan.best.epochs * budget.longer_factor), patience=budget.longer_patience)
    return run_unit(run, "squeeze/longer", cfg, seed=plan.best_seed, label=f"trained longer: {cfg.describe()}")


# -- distillation


def distill(run: RunContext, members: list[Member], cfg: TrainingConfig, *,
            settings: DistillSettings = DISTILL) -> UnitResult:
    """A model of `cfg`'s size taught by the members' ensemble (a unit of work, like the others)."""
    teacher = Teacher(tuple((m.config, m.seed, pack_state(m.model.state_dict())) for m in members), settings)
    # the teacher's soft targets take the place of label smoothing, which would smooth the true labels again
    cfg = cfg.replace(label_smoothing=0.0)
    return run_unit(run, "squeeze/distilled", cfg, seed=run.ctx.derive("squeeze-distill"),
                    label=f"distilled: {cfg.describe()}", teacher=teacher)


# -- the step


def run_squeeze(run: RunContext, settled: Settled, *, tuned: TuneFindings | None = None,
                step4: nn.Module | None = None, thresholds: RegularizeThresholds = NOISE,
                distill_settings: DistillSettings = DISTILL) -> StepOutcome[None]:
    """Step 6 from the trials step 5 found (or seeds of the settled configuration); `step4` is the model step 4
    ended with, scored beside the squeezed ones."""
    exp = run.experiment
    budget = SQUEEZE_BUDGETS[run.budget]
    metric, higher = selection_metric(exp)
    plan = plan_members(run, tuned, settled.config, k=budget.ensemble_size)
    # with workers, the longer training starts first, beside the members', and goes on while the student trains
    members = ensemble_members(run, plan, ahead=[lambda r: train_longer(r, plan, budget)])
    best = members[0]
    ensemble = Ensemble([m.model for m in members], task=exp.task).to(run.device)
    student_unit, longer_unit = speculate(
        run, lambda r: (distill(r, members, best.config, settings=distill_settings), train_longer(r, plan, budget)))
    student, longer = load_unit(run, student_unit)[0], load_unit(run, longer_unit)[0]
    longer_cfg = longer_unit.config
    candidates: dict[str, Candidate] = {
        "ensemble": (ensemble, [(m.config, m.model) for m in members],
                     f"average of {len(members)}: " + ", ".join(m.label for m in members)),
        "distilled": (student, [(best.config, student)], f"one model of {best.label}'s size taught by the ensemble"),
        "longer": (longer, [(longer_cfg, longer)], f"{best.label}'s configuration, up to {longer_cfg.epochs} "
                   f"epochs with early stopping"),
        "best": (best.model, [(best.config, best.model)], f"{best.label}: {best.config.describe()}"),
    }
    table = _score_table(run, candidates, previous=step4)
    chosen = choose_final(table, metric=metric, higher_is_better=higher, thresholds=thresholds)
    chosen_members = candidates[chosen][1]
    _save_all(run, candidates, table, chosen)
    longer_records = list(longer_unit.records)
    # The config that describes the final weights: the chosen model's own (an ensemble is described member by
    # member in final/; its run-level config stays the best member's).
    return StepOutcome(_result(table, chosen, metric, members, longer_records=longer_records),
                       model=candidates[chosen][0],
                       config=chosen_members[0][0] if len(chosen_members) == 1 else best.config,
                       pictures={"table": table, "histories": {"longer": longer_records}})


#: a squeezed model: the module, its members with their configurations (for final/), and what it is
Candidate = tuple[nn.Module, list[tuple[TrainingConfig, nn.Module]], str]


def _save_all(run: RunContext, candidates: dict[str, Candidate], table: list[dict[str, Any]], chosen: str) -> None:
    """Every squeezed model in the run folder's final/, and which one the run chose."""
    if run.out_dir is None:
        return
    for name, (_, saved_members, _) in candidates.items():
        row = next(r for r in table if r["model"] == name)
        save_model(run.out_dir, name, members=saved_members, exp=run.experiment,
                   scores={"val": row.get("val"), "test": row.get("test")})
    choose(run.out_dir, chosen, table=table)


def _score_table(run: RunContext, candidates: dict[str, Any], *, previous: nn.Module | None) -> list[dict[str, Any]]:
    """Each model's validation scores and, only to report them, its test scores."""
    exp = run.experiment
    rows = []
    entries = ([("step 4", previous, "the model steps 3 and 4 settled on")] if previous is not None else [])
    entries += [(name, model, note) for name, (model, _, note) in candidates.items()]
    for name, model, note in entries:
        # test is scored for the table; the choice reads only "val"
        rows.append({"model": name, "note": note, "params": sum(p.numel() for p in model.parameters()),
                     **split_scores(model, exp, device=run.device)})
    return rows


def choose_final(table: list[dict[str, Any]], *, metric: str, higher_is_better: bool,
                 thresholds: RegularizeThresholds = NOISE) -> str:
    """The ensemble, unless a squeezed single model beats it on validation by more than the noise margin.

    Reads only each row's "val": the test split never chooses. Ties go to the ensemble, which averages out the
    luck of one seed.
    """
    by_name = {r["model"]: r for r in table}
    chosen = "ensemble"
    for name in ("distilled", "longer", "best"):
        value = by_name[name]["val"].get(metric, math.nan)
        if improves(value, by_name[chosen]["val"][metric], higher_is_better=higher_is_better, thresholds=thresholds):
            chosen = name
    return chosen


def _result(table: list[dict[str, Any]], chosen: str, metric: str, members: list[Member],
            *, longer_records: list[dict[str, Any]]) -> StepResult:
    by_name = {r["model"]: r for r in table}
    single, ens = by_name["best"]["val"][metric], by_name["ensemble"]["val"][metric]
    parts = [f"val {metric}: best single {single:.4g}, ensemble of {len(members)} {ens:.4g}, "
             f"distilled {by_name['distilled']['val'][metric]:.4g}, longer {by_name['longer']['val'][metric]:.4g}"]
    if "test" in by_name["best"]:
        parts.append(f"test: single {by_name['best']['test'][metric]:.4g}, ensemble {by_name['ensemble']['test'][metric]:.4g}")
    parts.append(f"final: {chosen} (chosen on val)")
    details = {"table": table, "chosen": chosen, "members": [{"label": m.label, "config": m.config.to_dict(),
                                                              "seed": m.seed, "val": m.val} for m in members],
               "longer_curve": longer_records}
    return StepResult("squeeze", "pass", "; ".join(parts), details=details)
