"""Worker processes for a run's units of work: each trains one configuration and hands back what it measured.

On a CPU a second process nearly doubles throughput where a second intra-op thread adds ~15% (small models do
not split well across threads), and two processes that each use every core slow each other down manyfold. So a
run with `workers=N` starts N spawned processes, each with `cores // N` torch threads, and the parent process
only plans, waits and writes the journal (it never trains while they do).

A worker builds the experiment again from where it came from (its spec, and `--fix-init`), and refuses to work
when what it built differs from the parent's (another model, other data sizes: the fingerprint the journal
keys on); the run then goes on in one process and says why. Units are seeded by their own identity, so which
worker trains which unit, and when, changes nothing: for the same threads per unit, the results equal a
one-process run's.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import torch

from nnrecipe.experiment import Experiment


def physical_cores() -> int:
    """The machine's physical cores (hyper-threads share one core's arithmetic units)."""
    try:
        import psutil

        return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)
    except ImportError:  # psutil is optional: logical cores then
        return max(1, os.cpu_count() or 1)


def default_workers(device: torch.device) -> int:
    """One worker per physical core on a CPU; one process on an accelerator (it is one device, already parallel)."""
    return physical_cores() if device.type == "cpu" else 1


@dataclass(frozen=True)
class ExperimentSource:
    """How a worker builds the run's experiment again: its spec (a built-in name or a file), with `--fix-init`."""

    spec: str
    fix_init: bool = False

    @classmethod
    def of(cls, exp: Experiment) -> ExperimentSource | None:
        """Where `exp` came from, or None for an experiment built in Python (a worker could not build it)."""
        spec = exp.meta.get("spec")
        return cls(str(spec), bool(exp.meta.get("fix_init"))) if spec else None

    def build(self) -> Experiment:
        from nnrecipe.spec import load_spec

        exp = load_spec(self.spec)
        if self.fix_init:
            from nnrecipe.checks.skeleton.init_bias import with_fixed_init

            exp = with_fixed_init(exp)
        return exp


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker process starts from (picklable: processes are spawned)."""

    source: ExperimentSource
    threads: int
    device: str
    #: the parent's journal fingerprint; a worker whose experiment differs refuses to start
    fingerprint: dict[str, Any]
    seed: int
    budget: str


@dataclass(frozen=True)
class WorkerState:
    """A worker's experiment and device, built once when it starts."""

    experiment: Experiment
    device: torch.device


_STATE: WorkerState | None = None
#: why this worker process cannot work (its experiment differs from the run's), reported by `_ready`
_REFUSED: str | None = None


def _start(setup: WorkerSetup) -> None:
    """A worker's initializer: threads first (before any torch work), then the experiment, checked. It never
    raises (the pool would log a traceback and break): a refusal is kept and reported by `_ready`."""
    global _STATE, _REFUSED
    from types import SimpleNamespace

    from nnrecipe.steps.ending import fingerprint

    threading.Thread(target=_end_with_parent, args=(os.getppid(),), daemon=True).start()
    torch.set_num_threads(setup.threads)
    try:
        exp = setup.source.build()
        device = torch.device(setup.device)
        mine = fingerprint(exp, SimpleNamespace(seed=setup.seed, budget=setup.budget, device=device))  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which goes on in one process
        _REFUSED = f"building the experiment from {setup.source.spec!r} failed ({type(exc).__name__}: {exc})"
        return
    if mine != setup.fingerprint:
        differs = sorted(k for k in {*mine, *setup.fingerprint} if mine.get(k) != setup.fingerprint.get(k))
        _REFUSED = (f"the experiment built again from {setup.source.spec!r} differs from the run's "
                    f"({', '.join(differs)})")
        return
    _STATE = WorkerState(exp, device)


def worker_state() -> WorkerState:
    """The experiment and device of this worker process (only inside a job)."""
    assert _STATE is not None, "not in a worker process"
    return _STATE


def _ready() -> str | None:
    return _REFUSED


def _end_with_parent(parent: int, every: float = 0.5) -> None:
    """A worker's watch on its run: a killed run leaves its workers orphans (idle ones blocked on their queue
    forever, busy ones training into the next run's folder); each ends itself once its parent is gone."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)  # no cleanup: the files it wrote are the checkpoints a rerun resumes from


class UnitPool:
    """N worker processes, started on first use and kept for the whole run (each start imports torch and builds
    the experiment: seconds, paid once)."""

    def __init__(self, setup: WorkerSetup, workers: int) -> None:
        self.setup, self.workers = setup, workers
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        #: why the pool stopped working (a worker that refused, or died); the run then goes on in one process
        self.broken: str | None = None
        #: what the workers handed back, kept for the whole run (see `steps.speculation`)
        self.ledger: Any = None
        #: called before the workers stop (the ledger drops what no step used)
        self.closing: list[Callable[[], None]] = []

    def executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: a forked child inherits torch's thread pools mid-state, and open files
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start, initargs=(self.setup,))
            # every worker starts now, side by side, rather than one per job as jobs arrive
            refusals = {f.result() for f in [self._executor.submit(_ready) for _ in range(self.workers)]} - {None}
            if refusals:
                self.close()
                self.broken = f"worker processes could not start: {refusals.pop()}; the run went on in one process"
                raise BrokenProcessPool(self.broken)
        return self._executor

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        return self.executor().submit(fn, *args)

    def close(self) -> None:
        for hook in self.closing:
            with contextlib.suppress(BrokenProcessPool):
                hook()
        self.closing.clear()
        if self._executor is not None:
            # what still runs now is a guess no step used (or the run is being interrupted): stop it, rather than
            # wait a training's length; its per-epoch checkpoint stays for a rerun that asks for the same unit
            processes = list(getattr(self._executor, "_processes", {}).values())
            self._executor.shutdown(wait=False, cancel_futures=True)
            for proc in processes:
                proc.terminate()
            for proc in processes:
                proc.join(timeout=10)
            self._executor = None


def threads_per_worker(workers: int) -> int:
    return max(1, physical_cores() // workers)


def setup_for(exp: Experiment, *, workers: int, device: torch.device, fingerprint: dict[str, Any], seed: int,
              budget: str) -> WorkerSetup | None:
    """The workers' setup for a run, or None when they could not build its experiment."""
    source = ExperimentSource.of(exp)
    if source is None:
        return None
    return WorkerSetup(source, threads_per_worker(workers), str(device), fingerprint, seed, budget)
