"""How trials are drawn and stopped: the trial-seeded random sampler (or TPE), the median pruner, and the
`--budget` sizes that set how many trials run and how long each may train."""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from nnrecipe.errors import UsageError, did_you_mean
from nnrecipe.seeding import derive_seed

SamplerName = Literal["random", "tpe"]
SAMPLERS: tuple[SamplerName, ...] = ("random", "tpe")


@dataclass(frozen=True, kw_only=True)
class TuneBudget:
    """How much tuning `--budget quick|default|long` allows."""

    #: finished (complete or pruned) trials in the study
    trials: int
    #: most epochs one trial trains (the settled configuration's own epochs when fewer)
    max_epochs: int
    #: trials that finish before the pruner may stop any
    startup_trials: int = 3
    #: epochs every trial trains before it may be pruned, as a fraction of its epochs. A one-cycle schedule
    #: peaks at 30% of training, where validation scores are at their noisiest and regularized trials
    #: (augmentation, label smoothing) trail the others before they catch up: they are judged once it anneals.
    warmup_fraction: float = 0.5


TUNE_BUDGETS: dict[str, TuneBudget] = {
    "quick": TuneBudget(trials=3, max_epochs=30, startup_trials=2),
    "default": TuneBudget(trials=8, max_epochs=60),
    "long": TuneBudget(trials=24, max_epochs=150, startup_trials=5),
}


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """Random search whose every draw depends only on (seed, trial number, parameter name).

    Optuna's own RandomSampler keeps one stream per process: a resumed run, or a second worker started with
    the same seed, would draw the same configurations again. Trial numbers are unique within a study, so
    these draws never repeat and do not depend on which worker runs which trial.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        rng = np.random.default_rng(derive_seed(self.seed, "tune", trial.number, param_name))
        dist = param_distribution
        if isinstance(dist, CategoricalDistribution):
            return dist.choices[int(rng.integers(len(dist.choices)))]
        if isinstance(dist, (FloatDistribution, IntDistribution)):
            low, high = float(dist.low), float(dist.high)
            value = math.exp(rng.uniform(math.log(low), math.log(high))) if dist.log else rng.uniform(low, high)
            return int(round(value)) if isinstance(dist, IntDistribution) else float(value)
        raise TypeError(f"unsupported distribution {dist!r}")


def make_sampler(name: str, *, seed: int) -> optuna.samplers.BaseSampler:
    if name not in SAMPLERS:
        raise UsageError(f"sampler: expected one of {SAMPLERS}, but got {name!r}{did_you_mean(name, SAMPLERS)}")
    if name == "random":
        return TrialSeededSampler(seed)
    # TPE keeps a stream per process; a per-process seed keeps parallel workers from drawing the same startup
    # trials (TPE's proposals depend on which trials have finished anyway, so they are not reproducible).
    return optuna.samplers.TPESampler(seed=derive_seed(seed, "tpe", socket.gethostname(), os.getpid()))


def make_pruner(budget: TuneBudget, *, epochs: int) -> optuna.pruners.BasePruner:
    """The median pruner for trials of a configuration that trains `epochs` (capped by the budget)."""
    return optuna.pruners.MedianPruner(n_startup_trials=budget.startup_trials,
                                       n_warmup_steps=_warmup_steps(budget, epochs))


def make_ordered_pruner(budget: TuneBudget, *, epochs: int) -> EarlierTrialsPruner:
    """`make_pruner`'s rule, judged against earlier trials only: the pruner of `nnrecipe run`'s study."""
    return EarlierTrialsPruner(startup_trials=budget.startup_trials, warmup_steps=_warmup_steps(budget, epochs))


def _warmup_steps(budget: TuneBudget, epochs: int) -> int:
    """No trial is pruned before this epoch: `warmup_fraction` of its schedule (a one-cycle schedule anneals
    from 30%)."""
    return max(1, int(budget.warmup_fraction * min(epochs, budget.max_epochs)))


class EarlierTrialsPruner(optuna.pruners.BasePruner):
    """Median pruning against the trials numbered before this one, so that no decision depends on which worker
    ran which trial, or when: a run's study prunes the same trials with one worker or many.

    At step s (past the warmup), a trial is stopped when its best value so far is worse than the median of the
    values at step s of the earlier trials that reached it (whatever became of them after), once at least
    `startup_trials` did. Run alone, every earlier trial has ended when a trial is judged; side by side, an
    earlier trial may still be running short of step s. It is waited for only when its value could change the
    decision: the trial is judged at once when the outcome is the same whether each such trial reaches step s
    with the best value possible or the worst, or never reaches it (pruned or failed before); a trial far above
    or below the median, or with fewer earlier trials than `startup_trials`, never waits. Optuna's
    MedianPruner reads whichever trials have completed at the moment it is asked, which in parallel depends on
    timing; it also ignores pruned trials, which here count at the steps they reached (as in successive
    halving, where every trial that reached a rung is judged together).
    """

    def __init__(self, *, startup_trials: int, warmup_steps: int, poll: float = 0.1, wait_at_most: float = 900.0):
        self.startup_trials, self.warmup_steps = startup_trials, warmup_steps
        self.poll, self.wait_at_most = poll, wait_at_most

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.warmup_steps:
            return False
        values = [v for v in trial.intermediate_values.values() if math.isfinite(v)]
        if not values:  # nothing but NaN so far (as Optuna's median pruner: its nan-max is NaN)
            return True
        maximize = study.direction == StudyDirection.MAXIMIZE
        best = max(values) if maximize else min(values)
        deadline = time.monotonic() + self.wait_at_most
        while True:
            earlier, behind = self._earlier_at(study, trial.number, step)
            decided = self._decision(best, earlier, behind, maximize=maximize)
            if decided is not None:
                return decided
            # a trial left running by a killed worker is never waited for past the deadline
            if time.monotonic() > deadline:
                return bool(self._decision(best, earlier, 0, maximize=maximize))
            time.sleep(self.poll)

    def _decision(self, best: float, earlier: list[float], behind: int, *, maximize: bool) -> bool | None:
        """Whether to prune, or None when the `behind` earlier trials could still change it. The median only
        grows with any one value, so each count of them reaching the step is decided by the two extremes."""
        outcomes = set()
        for reaching in range(behind + 1):
            if len(earlier) + reaching < self.startup_trials:
                outcomes.add(False)
                continue
            for extreme in (-math.inf, math.inf):
                median = float(np.median([*earlier, *[extreme] * reaching]))
                outcomes.add(best < median if maximize else best > median)
        return outcomes.pop() if len(outcomes) == 1 else None

    @staticmethod
    def _earlier_at(study: optuna.Study, number: int, step: int) -> tuple[list[float], int]:
        """The values at `step` of the trials numbered before `number`, and how many of them are still running
        short of it."""
        earlier = [t for t in study.get_trials(deepcopy=False) if t.number < number]
        behind = sum(1 for t in earlier if t.state == TrialState.RUNNING
                     and (t.last_step if t.last_step is not None else -1) < step)
        return [t.intermediate_values[step] for t in earlier if step in t.intermediate_values
                and math.isfinite(t.intermediate_values[step])], behind
