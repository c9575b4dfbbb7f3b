"""`nnrecipe tune`: worker processes that join one study (in a shared database or the run folder's SQLite file)
and pull trials until it holds enough; with `--workers N`, N spawned processes on this machine, watched and
replaced when one dies."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from nnrecipe.errors import UsageError
from nnrecipe.progress import Progress
from nnrecipe.results import StepResult
from nnrecipe.seeding import derive_seed
from nnrecipe.steps.tune.findings import settled_in
from nnrecipe.steps.tune.sampler import TUNE_BUDGETS
from nnrecipe.steps.tune.space import StudyDefinition
from nnrecipe.steps.tune.storage import DEFAULT_HEARTBEAT, Heartbeat, open_storage, quiet_optuna, redact
from nnrecipe.steps.tune.study import count_trials, definition_for, open_study
from nnrecipe.steps.tune.summary import summarize
from nnrecipe.steps.tune.trial import TrialRunner, study_folder

#: a worker process that dies (killed, out of memory) is replaced, up to this many times per worker asked for
REPLACEMENTS_PER_WORKER = 3


@dataclass(frozen=True, kw_only=True)
class WorkerJob:
    """Everything a worker process needs, picklable for multiprocessing's spawn."""

    spec: str | None
    storage: str
    study: str
    trials: int
    budget: str = "default"
    sampler: str = "random"
    seed: int | None = None
    device: str = "cpu"
    out_dir: str | None = None
    heartbeat: Heartbeat = Heartbeat()
    threads: int | None = None


def worker_main(job: WorkerJob, progress: Progress | None = None) -> int:
    """Join (or create) the study and pull trials until it holds `job.trials` finished ones."""
    from nnrecipe.engine.device import resolve_device
    from nnrecipe.spec import load_spec

    if job.threads:
        torch.set_num_threads(job.threads)
    exp = load_spec(job.spec)
    folder = Path(job.out_dir) if job.out_dir else None
    base, mattered = settled_in(folder, exp)
    seed = derive_seed(exp.seed if job.seed is None else job.seed, "tune")
    budget = TUNE_BUDGETS[job.budget]
    study, definition = open_study(open_storage(job.storage, heartbeat=job.heartbeat), job.study,
                                   definition_for(exp, base, seed=seed, mattered=mattered), sampler=job.sampler,
                                   budget=budget)
    runner = TrialRunner(exp, definition, budget.max_epochs, resolve_device(job.device),
                         study_folder(folder, job.study), progress or Progress())
    return run_trials(study, runner, trials=job.trials, heartbeat=job.heartbeat)


def run_trials(study: optuna.Study, objective: Callable[[optuna.Trial], float], *, trials: int,
               heartbeat: Heartbeat = DEFAULT_HEARTBEAT, max_failures: int | None = None) -> int:
    """Run trials until the study holds `trials` finished (complete or pruned) ones; the number this worker ran.

    Before each trial, stale trials (of workers whose heartbeat stopped) are failed and queued again. When the
    trials still missing are all running on other workers, this worker waits for them rather than start
    extra ones, and takes over any whose worker dies. A trial that raises is recorded as failed (its error in
    the trial's `fail_reason`); after `max_failures` such trials (default: `trials`) this worker gives up.
    """
    max_failures = trials if max_failures is None else max_failures
    ran = failures = 0
    mine: list[FrozenTrial] = []  # this worker's trials (the study's last one may be another worker's)
    with quiet_optuna():
        while True:
            optuna.storages.fail_stale_trials(study)
            counts = count_trials(study)
            if counts.finished >= trials or failures >= max_failures:
                return ran
            if counts.finished + counts.running >= trials:
                time.sleep(min(1.0, heartbeat.interval / 2))
                continue
            study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[lambda _, t: mine.append(t)])
            ran += 1
            failures += bool(mine) and mine[-1].state == TrialState.FAIL


def run_workers(job: WorkerJob, *, workers: int, poll: float = 1.0) -> list[int]:
    """`--workers N`: N processes on this machine, each a worker of the same study (the cores shared out).

    The processes are watched, not waited on blindly: a worker that dies leaves its trial to the heartbeat (it
    fails and is queued again once 3x overdue) and a new worker takes its place, so the study completes; one that
    keeps dying ends the command with an error instead of a hang.
    """
    import multiprocessing

    threads = job.threads or max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools and open connections
    results = context.Queue()
    job = dataclasses.replace(job, threads=threads)
    running = [_start_worker(context, job, results) for _ in range(workers)]
    _watch(running, lambda: _start_worker(context, job, results), storage=job.storage,
           replacements=REPLACEMENTS_PER_WORKER * workers, poll=poll)
    done = []
    while not results.empty():
        done.append(results.get())
    return done


def _watch(running: list[Any], start: Callable[[], Any], *, storage: str, replacements: int, poll: float) -> None:
    """Wait for the worker processes, starting a new one for each that dies, up to `replacements` in all."""
    replaced = 0
    while running:
        for proc in list(running):
            proc.join(timeout=poll / max(len(running), 1))
            if proc.exitcode is None:
                continue
            running.remove(proc)
            if proc.exitcode == 0:
                continue
            if replaced >= replacements:
                for other in running:
                    other.terminate()
                raise UsageError(f"tune: worker processes keep dying (the last exited with code {proc.exitcode}, "
                                 f"{replaced} replaced already); the study in {redact(storage)!r} keeps what "
                                 "they finished")
            replaced += 1
            running.append(start())


def _start_worker(context: Any, job: WorkerJob, results: Any) -> Any:
    proc = context.Process(target=_worker_process, args=(job, results), daemon=False)
    proc.start()
    return proc


def _worker_process(job: WorkerJob, results: Any) -> None:
    """A spawned worker's entry point (found by its qualified name, so it must stay at module level)."""
    results.put(worker_main(job))


def study_result(job: WorkerJob) -> StepResult:
    """The tune step's result for a study, as it stands in its storage."""
    storage = open_storage(job.storage, heartbeat=job.heartbeat)
    with quiet_optuna():
        study = optuna.load_study(storage=storage, study_name=job.study)
    return summarize(study, StudyDefinition.from_attrs(study.user_attrs), storage=job.storage)
