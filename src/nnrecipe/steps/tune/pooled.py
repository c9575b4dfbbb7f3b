"""Step 5's trials on the run's worker processes: the parent asks the study for each trial (so trials get the
numbers, and therefore the configurations and seeds, a one-process run gives them) and a worker trains it,
reporting to the run folder's SQLite study and telling it the outcome. Pruning is judged against earlier trials
only (`EarlierTrialsPruner`), so the same trials are pruned with any number of workers."""

from __future__ import annotations

import concurrent.futures
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from nnrecipe.progress import Progress
from nnrecipe.steps.context import RunContext
from nnrecipe.steps.pool import worker_state
from nnrecipe.steps.tune.sampler import TuneBudget, make_ordered_pruner, make_sampler
from nnrecipe.steps.tune.space import StudyDefinition
from nnrecipe.steps.tune.storage import open_storage, quiet_optuna
from nnrecipe.steps.tune.study import count_trials


@dataclass(frozen=True)
class TrialJob:
    """One trial for a worker (picklable): where the study is, which trial, and how long it may train."""

    storage: str
    study: str
    trial_id: int
    budget: TuneBudget
    folder: str


def run_trials_pooled(run: RunContext, study: optuna.Study, *, storage: str, budget: TuneBudget, folder: Path,
                      trials: int, max_failures: int | None = None) -> int:
    """Trials on the run's workers until the study holds `trials` finished ones (or `max_failures` failed, by
    default `trials`, as `run_trials_alone`); how many were started.

    Trials left running by a killed run go first (each resumes from its last checkpointed epoch); then one new
    trial per idle worker, never more than the study still needs, as a one-process run would ask for them.
    """
    pool = run.pool
    assert pool is not None
    max_failures = trials if max_failures is None else max_failures
    running: dict[concurrent.futures.Future[str], int] = {}
    started = failures = 0
    with quiet_optuna():
        left = sorted(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)), key=lambda t: t.number)
        finished = count_trials(study).finished
        while True:
            while (len(running) < pool.workers and finished + len(running) < trials and failures < max_failures):
                trial = left.pop(0) if left else study.ask()
                job = TrialJob(storage, study.study_name, trial._trial_id, budget, str(folder))
                running[pool.submit(run_trial_job, job)] = trial.number
                started += 1
            if not running:
                return started
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                number = running.pop(future)
                state = _outcome(study, number, future)
                finished += state in (TrialState.COMPLETE.name, TrialState.PRUNED.name)
                failures += state == TrialState.FAIL.name
                run.progress.note(f"trial {number}: {state.lower()}")


def _outcome(study: optuna.Study, number: int, future: concurrent.futures.Future[str]) -> str:
    """The trial's end as its worker told the study; a job that broke outside the trial's training (its study
    could not be read, say) fails the trial, as a training error would, and the study goes on. A worker that
    died breaks the pool: the run goes on in one process."""
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, BrokenProcessPool):
        raise error
    trial = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
    if trial.state != TrialState.RUNNING:  # it broke after its outcome was told: that outcome stands
        return trial.state.name
    optuna.trial.Trial(study, trial._trial_id).set_user_attr("note", f"{type(error).__name__}: {error}"[:200])
    study.tell(number, state=TrialState.FAIL)
    return TrialState.FAIL.name


def run_trial_job(job: TrialJob) -> str:
    """A worker process's trial (module level: spawned workers find it by name): the outcome's state name."""
    from nnrecipe.steps.tune.step import run_one
    from nnrecipe.steps.tune.trial import TrialRunner

    state = worker_state()
    storage = open_storage(job.storage, heartbeat=None)
    with quiet_optuna():
        attrs = optuna.load_study(storage=storage, study_name=job.study).user_attrs
        definition = StudyDefinition.from_attrs(attrs)
        study = optuna.load_study(storage=storage, study_name=job.study,
                                  sampler=make_sampler("random", seed=definition.seed),
                                  pruner=make_ordered_pruner(job.budget, epochs=definition.base.epochs))
        runner = TrialRunner(state.experiment, definition, job.budget.max_epochs, state.device, Path(job.folder),
                             Progress())
        study.get_trials(deepcopy=False)  # optuna's cache learns of the parent's trials only by reading them
        outcome = run_one(study, optuna.trial.Trial(study, job.trial_id), runner)
    return outcome.name
