"""Several worker processes on one SQLite study file: a worker killed mid-trial is replaced and the study
completes (the parent neither hangs nor loses the result), and eight workers share one file without
"database is locked"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from nnrecipe.steps.tune import Heartbeat, default_storage, open_storage, quiet_optuna

SPEC = str(Path(__file__).parent / "slow_spec.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "NNRECIPE_STEP_DELAY": "0.1", "PYTHONPATH": str(Path(__file__).parent)}


def _tune(out: Path, study: str, trials: int, workers: int, heartbeat: int = 1) -> list[str]:
    return [sys.executable, "-m", "nnrecipe", "tune", SPEC, "--study", study, "--trials", str(trials), "--budget",
            "quick", "--heartbeat", str(heartbeat), "--device", "cpu", "--out", str(out), "--workers", str(workers),
            "--json", str(out / "tune.json")]


def _trials(out: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    url = str(default_storage(out))
    if not Path(url.removeprefix("sqlite:///")).exists():
        return []
    with quiet_optuna():
        try:
            storage = open_storage(url, heartbeat=Heartbeat(interval=1, grace=3))
            return optuna.load_study(study_name=study, storage=storage).get_trials()
        except (KeyError, Exception):  # not created yet, or the schema is being written
            return []


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_killed_worker_is_replaced_and_the_study_completes(tmp_path: Path) -> None:
    parent = subprocess.Popen(_tune(tmp_path, "kill", 4, 2), env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    deadline, victim = time.monotonic() + 200, None
    while victim is None and time.monotonic() < deadline and parent.poll() is None:
        running = [t for t in _trials(tmp_path, "kill") if t.state == TrialState.RUNNING and "worker" in t.user_attrs]
        victim = running[0] if running else None
        time.sleep(0.2)
    assert victim is not None, "no running trial seen"
    os.kill(int(victim.user_attrs["worker"].rsplit(":", 1)[1]), signal.SIGKILL)  # one worker process, not the parent
    _, stderr = parent.communicate(timeout=300)
    assert parent.returncode == 0, stderr[-3000:]
    trials = {t.number: t for t in _trials(tmp_path, "kill")}
    assert trials[victim.number].state == TrialState.FAIL
    finished = [t for t in trials.values() if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) >= 4
    assert any(t.system_attrs.get("failed_trial") == victim.number for t in finished)  # retried
    assert json.loads((tmp_path / "tune.json").read_text())["steps"][0]["step"] == "tune"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_eight_workers_share_one_sqlite_file(tmp_path: Path) -> None:
    # the default heartbeat: eight processes on two cores starve a 1 s heartbeat past its 3 s grace, and live
    # workers' trials would be taken for dead (seen: 6 of 8); that is the heartbeat's setting, not SQLite
    proc = subprocess.run(_tune(tmp_path, "eight", 8, 8, heartbeat=10), env={**ENV, "NNRECIPE_STEP_DELAY": "0.02"},
                          capture_output=True, text=True, timeout=580)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "database is locked" not in proc.stderr
    trials = _trials(tmp_path, "eight")
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) >= 8 and all(t.state != TrialState.FAIL for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) >= 2
