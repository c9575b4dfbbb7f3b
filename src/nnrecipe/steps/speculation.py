"""A step's units of work on the run's worker processes, trained ahead of need, with the step's own logic intact.

Step 4 is greedy: each candidate is trained from the best configuration so far, so which unit comes next
depends on whether the last one was kept. Rather than write the step twice (once serial, once as a task graph),
the step's exploration is a plain function of its units' results, run again and again:

- **for real**: every unit it asks for must be finished (in the journal, or handed back by a worker); the first
  that is not stops the replay;
- **as a guess**: a unit not finished yet is assumed turned down (its scores are NaN, which never beats
  anything), which lists the units the step would ask for next if every pending one is turned down.

The first units of that list go to idle workers; when one finishes, the step is replayed. A kept candidate
makes the guesses after it wrong: the workers are asked to stop them at their next epoch (a flag file beside
their checkpoint), and their results are never used. Most candidates are turned down, so most guesses hold.
The last replay is the serial step itself on the same results, so the step's outcome is the serial one's for
the same unit results (each unit is seeded by its own identity).

What the workers handed back is kept for the whole run (the pool's ledger), so a step can start units another
exploration will use (`ahead`: step 6's longer training goes on while the student is distilled).
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import math
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nnrecipe.steps.context import RunContext
from nnrecipe.steps.units import TrainedUnit, UnitJob, UnitRequest, UnitResult, finish_unit, train_job

T = TypeVar("T")


class _NotYet(Exception):
    """A replay asked for a unit that is not finished."""


@dataclass
class _Ledger:
    """What the workers handed back (by key and configuration), and what they are training: one per run."""

    run: RunContext
    finished: dict[str, TrainedUnit | BaseException] = field(default_factory=dict)
    running: dict[concurrent.futures.Future[Any], UnitJob] = field(default_factory=dict)
    #: units asked to stop (guesses proved wrong); what they hand back is dropped
    stopping: set[str] = field(default_factory=set)
    #: units trained to their end, units stopped part-way, and units whose results a step used
    trained: int = 0
    stopped: int = 0
    used: int = 0

    def strict(self, request: UnitRequest) -> UnitResult:
        got = self.finished.pop(request.variant, None)
        if got is None:
            raise _NotYet(request.key)
        if isinstance(got, BaseException):  # the unit's training raised, as it would have here
            raise got
        self.used += 1
        finish_unit(self.run, request, got.result, got.model_state, got.extras)
        self.run.progress.note(f"finished: {request.label}")
        return got.result

    def submit(self, wanted: list[UnitRequest], *, keep: set[str]) -> None:
        """Stop what no longer is wanted, then give the first units of `wanted` no worker holds to idle workers.

        A unit is wanted while the latest guess lists it (or `keep` does: units started for a later step).
        """
        pool = self.run.pool
        assert pool is not None
        listed = {r.variant for r in wanted} | keep
        for job in self.running.values():
            if job.request.variant not in listed:
                self._stop(job)
            elif job.request.variant in self.stopping and job.stop_flag is not None:  # wanted again: go on
                job.stop_flag.unlink(missing_ok=True)
                self.stopping.discard(job.request.variant)
        busy = {job.request.variant for job in self.running.values()}
        for request in wanted:
            if len(self.running) >= pool.workers:
                return
            if request.variant in busy or request.variant in self.finished:
                continue
            checkpoint = self.run.journal.partial(request.variant)
            left = TrainedUnit.left_at(checkpoint, request)
            if left is not None:  # a worker finished it for a run that was killed before a step used it
                self.finished[request.variant] = left
                continue
            job = UnitJob(request, None if checkpoint is None else str(checkpoint))
            if job.stop_flag is not None:
                job.stop_flag.unlink(missing_ok=True)  # asked to stop before, wanted again: it resumes
            self.running[pool.submit(train_job, job)] = job
            busy.add(request.variant)

    def _stop(self, job: UnitJob) -> None:
        """Ask a worker to stop a unit at its next epoch (without a run folder there is no flag: it runs on)."""
        if job.stop_flag is None or job.request.variant in self.stopping:
            return
        job.stop_flag.write_text("a guess that proved wrong\n")
        self.stopping.add(job.request.variant)

    def wait(self) -> None:
        done, _ = concurrent.futures.wait(self.running, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            job = self.running.pop(future)
            variant = job.request.variant
            error = future.exception()
            if isinstance(error, BrokenProcessPool):
                raise error
            if variant in self.stopping:
                self.stopping.discard(variant)
                self.stopped += 1
                if job.stop_flag is not None:
                    job.stop_flag.unlink(missing_ok=True)
                continue
            if error is not None:
                self.trained += 1
                self.finished[variant] = error
                continue
            blob = future.result()
            if blob is None:  # stopped by a flag a killed run left behind: it is asked for again when wanted
                continue
            self.trained += 1
            self.finished[variant] = TrainedUnit.unpacked(blob)

    def settle(self, keep: set[str]) -> None:
        """A step has what it needs: stop its guesses still training and drop those no later step will use."""
        for job in self.running.values():
            if job.request.variant not in keep:
                self._stop(job)
        for variant in [v for v in self.finished if v not in keep]:
            del self.finished[variant]  # what it left in the run folder stays: a rerun asking for it finds it

    def close(self) -> None:
        if self.trained or self.stopped:
            self.run.progress.note(f"workers: {self.trained} units trained to their end and {self.stopped} stopped "
                                   f"part-way; the steps used {self.used} (the others were guesses that proved wrong)")
        self.finished.clear()
        self.running.clear()


@dataclass(frozen=True)
class _Strict:
    ledger: _Ledger

    def unit(self, request: UnitRequest) -> UnitResult:
        return self.ledger.strict(request)


@dataclass
class _Guess:
    """Finished units as they are; unfinished ones assumed turned down, and listed."""

    ledger: _Ledger
    wanted: list[UnitRequest] = field(default_factory=list)
    #: every unit it asked for, finished or not
    asked: set[str] = field(default_factory=set)

    def unit(self, request: UnitRequest) -> UnitResult:
        self.asked.add(request.variant)
        got = self.ledger.finished.get(request.variant)
        if isinstance(got, TrainedUnit):
            return got.result
        self.wanted.append(request)
        return UnitResult(request.key, request.config, val=collections.defaultdict(lambda: math.nan),
                          best_epoch=None, epochs_run=0, seed=request.seed)


def speculate(run: RunContext, explore: Callable[[RunContext], T], *,
              ahead: Sequence[Callable[[RunContext], Any]] = (), ahead_first: bool = False) -> T:
    """`explore(run)`, its units trained by the run's workers ahead of need (in this process without a pool).

    `explore` must be a function of its units' results alone: it is called many times, and only its last call
    counts; it writes nothing but through `run_unit`. The units `ahead`'s explorations ask for are started too,
    after `explore`'s (before them with `ahead_first`: a long unit nothing waits on, started first, ends
    beside the others rather than after them), for a later `speculate` to use.
    """
    pool = run.pool
    if pool is None or pool.broken is not None:
        return explore(run)
    ledger = _ledger(run)
    keep: set[str] = set()
    try:
        while True:
            try:
                found = explore(dataclasses.replace(run, units=_Strict(ledger)))
            except _NotYet:
                pass
            else:
                ledger.settle(keep)
                return found
            guess, later = _Guess(ledger), _Guess(ledger)
            tripped = _list_units(explore, dataclasses.replace(run, units=guess))
            for exploration in ahead:
                _list_units(exploration, dataclasses.replace(run, units=later))
            keep = later.asked  # finished ones too: a later step uses them
            ledger.submit([*later.wanted, *guess.wanted] if ahead_first else [*guess.wanted, *later.wanted], keep=keep)
            if not ledger.running:  # a bug, never a hang
                raise RuntimeError("a step asked for a unit no worker could be given") from tripped
            ledger.wait()
    except BrokenProcessPool as exc:
        pool.fall_back(exc, run.progress)
        return explore(run)


def _list_units(explore: Callable[[RunContext], Any], guessing: RunContext) -> Exception | None:
    """Run a guess; what it tripped over (a guess may trip over NaN scores: what it listed so far stands)."""
    try:
        explore(guessing)
    except Exception as exc:  # noqa: BLE001 - kept, to explain a guess that lists nothing
        return exc
    return None


def _ledger(run: RunContext) -> _Ledger:
    """The run's ledger, kept on its pool; what no step used is dropped when the pool closes."""
    pool = run.pool
    assert pool is not None
    if pool.ledger is None:
        pool.ledger = _Ledger(run)
        pool.closing.append(pool.ledger.close)
    return pool.ledger  # type: ignore[no-any-return]
