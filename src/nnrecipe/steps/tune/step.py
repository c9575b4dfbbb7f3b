"""Step 5 in `nnrecipe run`: the study in the run folder's SQLite file (or memory), run by this process alone and
resumed when the run is, and what step 6 takes from it (`TuneFindings`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import TrialState

from nnrecipe.experiment import Experiment
from nnrecipe.seeding import derive_seed
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.context import RunContext, Settled, StepOutcome
from nnrecipe.steps.regularize import RegularizeFindings
from nnrecipe.steps.training import build_model
from nnrecipe.steps.tune.pooled import run_trials_pooled
from nnrecipe.steps.tune.sampler import TUNE_BUDGETS, TuneBudget
from nnrecipe.steps.tune.storage import default_storage, open_storage, quiet_optuna
from nnrecipe.steps.tune.study import count_trials, definition_for, open_study
from nnrecipe.steps.tune.summary import summarize
from nnrecipe.steps.tune.trial import TrialRunner, saved_trial, study_folder


@dataclass(frozen=True)
class TunedTrial:
    """A completed trial: its number, validation score, configuration and seed."""

    number: int
    value: float
    config: TrainingConfig
    seed: int


@dataclass(frozen=True)
class TuneFindings:
    """What step 6 takes from step 5: the completed trials, best first, and where their kept weights are (the
    study's folder, or memory for a run without a folder)."""

    ranked: tuple[TunedTrial, ...]
    higher_is_better: bool
    folder: Path | None = None
    in_memory: Mapping[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, study: optuna.Study, *, higher_is_better: bool, folder: Path | None,
           in_memory: Mapping[int, dict[str, Any]]) -> TuneFindings:
        done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
        done.sort(key=lambda t: t.value, reverse=higher_is_better)  # type: ignore[arg-type, return-value]
        ranked = tuple(TunedTrial(t.number, float(t.value), TrainingConfig.from_dict(t.user_attrs["config"]),  # type: ignore[arg-type]
                                  int(t.user_attrs["seed"])) for t in done)
        return cls(ranked, higher_is_better, folder, in_memory)

    def model(self, trial: TunedTrial, exp: Experiment, *, device: torch.device) -> torch.nn.Module | None:
        """A completed trial's model with its kept weights; None when they are on another machine."""
        saved = saved_trial(self.folder, trial.number, dict(self.in_memory))
        if saved is None:
            return None
        model = build_model(exp, TrainingConfig.from_dict(saved["config"]), device=device, seed=int(saved["seed"]))
        model.load_state_dict(saved["model"])
        return model


def run_tune(run: RunContext, settled: Settled, regularized: RegularizeFindings | None = None, *,
             sampler: str = "random", storage: str | None = None) -> StepOutcome[TuneFindings]:
    """Step 5: the study in the run folder's SQLite file (or memory), resumed when the run is. The search space
    holds what step 4 found to matter (every knob that applies, without its findings)."""
    exp = run.experiment
    budget = TUNE_BUDGETS[run.budget]
    base = settled.config if settled.config is not None else TrainingConfig(batch_size=exp.batch_size,
                                                                            epochs=exp.epochs)
    mattered = regularized.mattered if regularized is not None else None
    definition = definition_for(exp, base, seed=run.ctx.derive("tune"), mattered=mattered)
    url = storage or default_storage(run.out_dir)
    # the run's settings are part of the name: a folder reused with other settings never mixes two studies
    name = f"{exp.name}-{derive_seed(0, run.journal.fingerprint, definition.to_attrs()):08x}"
    study, definition = open_study(open_storage(url, heartbeat=None), name, definition, sampler=sampler,
                                   budget=budget, ordered=True)
    folder = study_folder(run.out_dir, name)
    runner = TrialRunner(exp, definition, budget.max_epochs, run.device, folder, run.progress)
    _run_trials(run, study, runner, budget=budget, storage=url, folder=folder, pooled=sampler == "random")
    # no timings in the document: a resumed run's report must equal an uninterrupted one's
    # (its pictures are drawn from the details: the trials, the curve, the importance)
    result = summarize(study, definition, storage=url, timings=False,
                       epochs=min(definition.base.epochs, budget.max_epochs))
    found = TuneFindings.of(study, higher_is_better=definition.higher_is_better, folder=folder,
                            in_memory=runner.in_memory)
    # the best trial's model is what tuning ends with (its gain shows in the steps table), when it is here
    best = found.model(found.ranked[0], exp, device=run.device) if found.ranked else None
    config = found.ranked[0].config if best is not None else (settled.config or base)
    return StepOutcome(result, model=best, config=config, findings=found)


def _run_trials(run: RunContext, study: optuna.Study, runner: TrialRunner, *, budget: TuneBudget, storage: str | None,
                folder: Path | None, pooled: bool) -> None:
    """The study's trials on the run's workers when it has them and they can share the study (a database in the
    run folder, trials drawn by number), else here, one after another."""
    pool = run.pool
    if pool is not None and pool.broken is None and pooled and storage is not None and folder is not None:
        try:
            run_trials_pooled(run, study, storage=storage, budget=budget, folder=folder, trials=budget.trials)
            return
        except BrokenProcessPool as exc:
            pool.fall_back(exc, run.progress)
    run_trials_alone(study, runner, trials=budget.trials)


def run_trials_alone(study: optuna.Study, objective: Callable[[optuna.Trial], float], *, trials: int,
                     max_failures: int | None = None) -> int:
    """Run trials of a study this process alone works on (`nnrecipe run`'s) until it holds `trials` finished ones.

    Ask and tell, without heartbeats: a trial interrupted by a kill or Ctrl-C stays RUNNING, and the next run
    takes it over and finishes it from its last checkpointed epoch under its own number, so a resumed study
    ends exactly as an uninterrupted one would (same trials, same numbers, same values).
    """
    max_failures = trials if max_failures is None else max_failures
    ran = failures = 0
    with quiet_optuna():
        for left in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            # optuna has no public handle on a stored trial; its parameters come back from suggest_* unchanged
            failures += run_one(study, optuna.trial.Trial(study, left._trial_id), objective) == TrialState.FAIL
            ran += 1
        while count_trials(study).finished < trials and failures < max_failures:
            failures += run_one(study, study.ask(), objective) == TrialState.FAIL
            ran += 1
    return ran


def run_one(study: optuna.Study, trial: optuna.Trial, objective: Callable[[optuna.Trial], float]) -> TrialState:
    """One trial to its end, told to the study: completed, pruned, or failed with a note why."""
    try:
        value = objective(trial)
    except optuna.TrialPruned:
        state = TrialState.PRUNED
        study.tell(trial, state=state)
    except Exception as exc:  # one broken configuration is a failed trial, not a failed run
        trial.set_user_attr("note", f"{type(exc).__name__}: {exc}"[:200])
        state = TrialState.FAIL
        study.tell(trial, state=state)
    else:
        state = TrialState.COMPLETE
        study.tell(trial, value)
    return state
