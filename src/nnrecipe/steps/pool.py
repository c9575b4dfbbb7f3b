"""Worker processes for a run's units of work: each trains one configuration and hands back what it measured.

On a CPU a second process nearly doubles throughput where a second intra-op thread adds ~15% (small models do
not split well across threads), and two processes that each use every core slow each other down manyfold. So a
run with `workers=N` starts N spawned processes, each with `cores // N` torch threads, and while they train the
parent process only plans, waits and writes the journal.

A worker builds the experiment again from where it came from (its spec, and `--fix-init`), and refuses to work
when what it built differs from the parent's (another model, other data sizes: the fingerprint the journal
keys on); the run then goes on in one process and says why. Units are seeded by their own identity, so which
worker trains which unit, and when, changes nothing: for the same threads per unit, the results equal a
one-process run's.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import torch

from nnrecipe.experiment import Experiment
from nnrecipe.seeding import seeded

#: the most workers a run starts unless told: each holds the experiment's data in memory
MAX_DEFAULT_WORKERS = 8


def usable_cores() -> int:
    """The physical cores this process may run on: hyper-threads share one core's arithmetic units, and a
    container or `taskset` may allow fewer CPUs than the machine has."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or allowed
    except ImportError:  # psutil is optional: logical cores then
        physical = allowed
    return max(1, min(physical, allowed))


def default_workers(device: torch.device) -> int:
    """One worker per usable physical core on a CPU (at most `MAX_DEFAULT_WORKERS`); one process on an
    accelerator (it is one device, already parallel)."""
    return min(usable_cores(), MAX_DEFAULT_WORKERS) if device.type == "cpu" else 1


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
    #: the run's experiment as `identity` sees it; a worker whose experiment differs refuses to start
    identity: dict[str, Any]
    seed: int
    budget: str
    #: the run's process: a worker ends itself once it is gone (read here, not in the worker, which may start
    #: after its run was killed)
    parent: int = field(default_factory=os.getpid)


class WorkerRefused(BrokenProcessPool):
    """A worker process that cannot work for this run (its experiment differs, or could not be built)."""


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

    threading.Thread(target=_end_with_parent, args=(setup.parent,), daemon=True).start()
    # Ctrl-C reaches the whole process group: the run stops its workers itself (a worker's KeyboardInterrupt
    # would print a traceback per process, or fail the trial it was training)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(setup.threads)
    try:
        exp = setup.source.build()
        device = torch.device(setup.device)
        mine = identity(exp, SimpleNamespace(seed=setup.seed, budget=setup.budget, device=device))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which goes on in one process
        _REFUSED = f"building the experiment from {setup.source.spec!r} failed ({type(exc).__name__}: {exc})"
        return
    if mine != setup.identity:
        differs = sorted(k for k in {*mine, *setup.identity} if mine.get(k) != setup.identity.get(k))
        _REFUSED = (f"the experiment built again from {setup.source.spec!r} differs from the run's "
                    f"({', '.join(differs)})")
        return
    _STATE = WorkerState(exp, device)


def identity(exp: Experiment, ctx: Any) -> dict[str, Any]:
    """What a worker's experiment must share with the run's: the journal's fingerprint (settings, data sizes, the
    model's code), and a few samples of each split and the names of its functions, so that data drawn
    differently, another optimizer or an experiment changed in Python after loading its spec is refused."""
    from nnrecipe.steps.ending import fingerprint

    digest = hashlib.sha256()
    with seeded(0):  # a dataset that augments in __getitem__ draws the same in every process
        for split in (exp.train, exp.val, exp.test):
            size = len(split) if split is not None else 0
            for index in sorted({0, size // 2, size - 1} if size else set()):
                digest.update(_as_bytes(split[index]))  # type: ignore[index]
    for name, value in sorted(vars(exp).items()):
        if name != "meta":
            digest.update(f"{name}={_described(value)};".encode())
    return {**fingerprint(exp, ctx), "content": digest.hexdigest()[:16]}


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().contiguous().numpy().tobytes()
    if isinstance(value, (tuple, list)):
        return b"|".join(_as_bytes(v) for v in value)
    if isinstance(value, dict):
        return b"|".join(k.encode() + b":" + _as_bytes(v) for k, v in sorted(value.items()))
    return repr(value).encode()


def _described(value: Any) -> str:
    """A field as text that is the same in every process: a function by its qualified name (its repr holds an
    address), data by its type and size (its samples are compared above)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if callable(value):
        inner = getattr(value, "func", None)  # functools.partial: the function and its arguments
        if inner is not None:
            return f"partial({_described(inner)}, {_described(dict(getattr(value, 'keywords', {})))})"
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__qualname__)}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_described(v)}" for k, v in sorted(value.items(), key=str)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_described(v) for v in value) + "]"
    size = len(value) if hasattr(value, "__len__") else None
    return f"{type(value).__qualname__}({size})"


def worker_state() -> WorkerState:
    """The experiment and device of this worker process (only inside a job); a worker that could not start
    breaks the pool, so that the run goes on in one process."""
    if _STATE is None:
        raise WorkerRefused(_REFUSED or "a worker process has no experiment")
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
                raise WorkerRefused(self.broken)
        return self._executor

    def fall_back(self, error: BaseException, progress: Any) -> None:
        """The pool broke (a worker died, or refused to work): stop the others (nothing may train what this
        process trains now), say so once; the run goes on in one process."""
        self.close()
        if self.broken is None:
            what = "refused to work" if isinstance(error, WorkerRefused) else "died"
            self.broken = (f"a worker process {what} ({error}); the run went on in one process (with this "
                           "process's threads: its last digits can differ from a run with workers)")
        progress.note(self.broken)

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
    """The cores shared out, never more threads than this process was given (`OMP_NUM_THREADS`, say)."""
    return max(1, min(usable_cores(), torch.get_num_threads()) // workers)


def setup_for(exp: Experiment, *, workers: int, device: torch.device, identity: dict[str, Any], seed: int,
              budget: str) -> WorkerSetup | None:
    """The workers' setup for a run, or None when they could not build its experiment."""
    source = ExperimentSource.of(exp)
    if source is None:
        return None
    return WorkerSetup(source, threads_per_worker(workers), str(device), identity, seed, budget)
