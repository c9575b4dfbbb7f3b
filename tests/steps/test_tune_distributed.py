"""Several workers tune one study on a real PostgreSQL server: they split the trials, and a worker killed
mid-trial leaves its trial failed while the others finish the study (the trial is retried with its parameters)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from pg_server import postgres_url  # noqa: F401  (the fixture)

from nnrecipe.steps.tune import Heartbeat, open_storage, quiet_optuna

SPEC = str(Path(__file__).parent / "slow_spec.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "NNRECIPE_STEP_DELAY": "0.1"}


def _tune(url: str, study: str, trials: int, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "nnrecipe", "tune", SPEC, "--storage", url, "--study", study, "--trials",
            str(trials), "--budget", "quick", "--heartbeat", "1", "--device", "cpu", "--out", str(out), *extra]


def _trials(url: str, study: str) -> list[optuna.trial.FrozenTrial]:
    with quiet_optuna():
        storage = open_storage(url, heartbeat=Heartbeat(interval=1, grace=3))
        try:
            return optuna.load_study(study_name=study, storage=storage).get_trials()
        except KeyError:  # not created yet
            return []


@pytest.mark.timeout(300)
def test_two_worker_processes_split_the_trials_of_one_study(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    proc = subprocess.run(_tune(postgres_url, "split", 6, tmp_path, "--workers", "2"), env=ENV,
                          capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = _trials(postgres_url, "split")
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    # a worker starts a trial only while the finished and running ones fall short, so at most one extra
    assert 6 <= len(finished) <= 7 and len(trials) == len(finished)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, workers
    assert all(sum(t.user_attrs["worker"] == w for t in trials) >= 1 for w in workers)
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == len(params)  # no configuration drawn twice


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_trial_leaves_it_failed_and_another_finishes_the_study(
        postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    doomed = subprocess.Popen(_tune(postgres_url, "kill", 3, tmp_path / "a"), env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, victim = time.monotonic() + 120, None
        while victim is None and time.monotonic() < deadline and doomed.poll() is None:
            running = [t for t in _trials(postgres_url, "kill") if t.state == TrialState.RUNNING
                       and t.user_attrs.get("worker", "").endswith(f":{doomed.pid}")]
            victim = running[0] if running else None
            time.sleep(0.1)
        assert victim is not None, doomed.stderr.read().decode() if doomed.stderr else "no running trial seen"
        doomed.send_signal(signal.SIGKILL)
    finally:
        doomed.wait()
    survivor = subprocess.run(_tune(postgres_url, "kill", 3, tmp_path / "b"), env=ENV, capture_output=True,
                              text=True, timeout=240)
    assert survivor.returncode == 0, survivor.stderr[-3000:]
    trials = {t.number: t for t in _trials(postgres_url, "kill")}
    assert trials[victim.number].state == TrialState.FAIL  # the dead worker's trial, marked by its stale heartbeat
    finished = [t for t in trials.values() if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 3 and all(not t.user_attrs["worker"].endswith(f":{doomed.pid}") for t in finished)
    retried = [t for t in finished if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retried) == 1  # queued again, with the same parameters and seed
    assert retried[0].params == victim.params and retried[0].user_attrs["seed"] == victim.user_attrs["seed"]
