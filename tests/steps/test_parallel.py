"""Worker processes inside one run: the same outcome as one process, resumable, and a clear fallback to one
process when workers cannot build the experiment."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import optuna
import psutil
import pytest
import tiny_spec
import torch

from nnrecipe.checks.context import CheckContext
from nnrecipe.progress import Progress
from nnrecipe.spec import load_spec
from nnrecipe.steps import pool as pool_module
from nnrecipe.steps import units as units_module
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.context import RunContext
from nnrecipe.steps.journal import Journal
from nnrecipe.steps.pipeline import run_pipeline
from nnrecipe.steps.pool import UnitPool, WorkerRefused, WorkerState, identity, setup_for
from nnrecipe.steps.tune.sampler import EarlierTrialsPruner
from nnrecipe.steps.tune.summary import pruning_saved
from nnrecipe.steps.units import TrainedUnit, UnitJob, UnitRequest, handed_back, run_unit, train_job

SPEC = Path(__file__).with_name("tiny_spec.py")


def _run(out: Path, *, workers: int, spec: Path = SPEC, kill_after: float | None = None) -> subprocess.Popen[bytes]:
    """`nnrecipe run`; with `kill_after`, kill -9 at that moment, then wait for its orphaned workers to end."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SPEC.parent)}
    cmd = [sys.executable, "-m", "nnrecipe", "run", str(spec), "--budget", "quick", "--out", str(out), "--json",
           str(out / "doc.json"), "--device", "cpu", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # a worker left behind by its killed run ends at its next epoch (it must not train into the rerun)
        _, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, f"{len(alive)} orphaned worker(s) still running 30 s after the kill"
    return proc


def _outcome(out: Path) -> tuple[object, ...]:
    doc = json.loads((out / "doc.json").read_text().replace(str(out), "<run folder>"))
    for step in doc["steps"]:
        assert step.pop("seconds") >= 0
    weights = torch.load(out / "model.pt", weights_only=False)["model"]
    return doc["steps"], doc["scores"], json.loads((out / "config.json").read_text()), weights


def _same_outcome(a: tuple[object, ...], b: tuple[object, ...]) -> None:
    for got, want in zip(a[0], b[0], strict=True):  # type: ignore[call-overload]
        assert got == want, f"step {want['step']} differs"
    assert a[1:3] == b[1:3]
    assert all(torch.equal(a[3][k], b[3][k]) for k in b[3])  # type: ignore[index]


@pytest.mark.slow
def test_two_workers_reach_the_one_process_run_and_a_killed_parallel_run_resumes_to_it(tmp_path: Path) -> None:
    """Same seed, one thread per unit: two workers give the one-process run's every step, score and weight; a
    parallel run killed mid-way (workers and all) and run again ends the same."""
    alone = _run(tmp_path / "alone", workers=1)
    assert alone.returncode == 0, alone.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    started = time.perf_counter()
    both = _run(tmp_path / "both", workers=2)
    full = time.perf_counter() - started
    assert both.returncode == 0, both.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    said = " ".join(both.stdout.read().decode().split())  # type: ignore[union-attr]
    # the workers did train (a spec file's functions are named alike in every process), steps 4 to 6 alike
    assert re.search(r"workers: [1-9]\d* units trained", said) and "went on in one process" not in said, said[-3000:]
    assert re.search(r"trial \d+: (complete|pruned)", said), said[-3000:]
    reference = _outcome(tmp_path / "alone")
    _same_outcome(_outcome(tmp_path / "both"), reference)

    killed = tmp_path / "killed"
    codes = [_run(killed, workers=2, kill_after=fraction * full).returncode for fraction in (0.5, 0.75)]
    assert -signal.SIGKILL in codes, f"no kill landed before the run finished: {codes}"
    assert _run(killed, workers=2).returncode == 0
    _same_outcome(_outcome(killed), reference)


class _Notes(Progress):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_an_experiment_built_in_python_trains_in_one_process_and_says_why() -> None:
    progress = _Notes()
    result = run_pipeline(tiny_spec.experiment(), device="cpu", budget="quick", workers=2, progress=progress,
                          until="skeleton")
    assert result.steps
    assert any("built in Python" in n for n in progress.notes), progress.notes


def test_workers_that_build_another_experiment_refuse_and_the_run_goes_on_in_one_process(tmp_path: Path) -> None:
    """A spec that builds other data the second time: the workers' fingerprint differs, they refuse to train, and
    the run finishes in one process with a note naming what differed."""
    counter = tmp_path / "built"
    spec = tmp_path / "changing_spec.py"
    spec.write_text(
        "import dataclasses, pathlib\nimport tiny_spec\n"
        f"COUNTER = pathlib.Path({str(counter)!r})\n"
        "def experiment():\n"
        "    n = int(COUNTER.read_text()) if COUNTER.exists() else 0\n"
        "    COUNTER.write_text(str(n + 1))\n"
        "    exp = tiny_spec.experiment()\n"
        "    return exp if n == 0 else dataclasses.replace(exp, train=tiny_spec.blobs(96, seed=1))\n")
    proc = _run(tmp_path / "run", workers=2, spec=spec)
    out = proc.stdout.read().decode()  # type: ignore[union-attr]
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
    assert re.search(r"differs from the run's \([^)]*sizes", out.replace("\n", " ")) and "one process" in out
    doc = json.loads((tmp_path / "run" / "doc.json").read_text())
    assert [s["status"] for s in doc["steps"]] == ["pass"] * 6


def test_an_experiment_changed_in_python_after_loading_its_spec_is_refused_by_the_workers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`replace` keeps where the experiment came from; the workers, which build it from there, see another one
    (its content differs) and refuse, and the run trains in one process."""
    monkeypatch.syspath_prepend(str(SPEC.parent))
    changed = load_spec(str(SPEC)).replace(optimizer=_other_optimizer)
    progress = _Notes()
    result = run_pipeline(changed, device="cpu", budget="quick", workers=2, progress=progress, until="regularize")
    assert {s.step: s.status for s in result.steps}["regularize"] == "pass"
    assert any("differs from the run's (content)" in n for n in progress.notes), progress.notes


def _other_optimizer(params: object) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.1)  # type: ignore[arg-type]


def test_workers_below_one_is_a_usage_error(tmp_path: Path) -> None:
    proc = _run(tmp_path / "run", workers=0)
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert proc.returncode == 2 and "--workers >= 1" in err and "Traceback" not in err


def test_a_spec_file_loaded_again_is_the_same_experiment_to_the_workers() -> None:
    """Workers compare the run's functions by qualified name: the spec's module must be named alike at every
    load (it was named at random, so every worker refused every spec file)."""
    ctx = SimpleNamespace(seed=0, budget="quick", device=torch.device("cpu"))
    first, again = load_spec(str(SPEC)), load_spec(str(SPEC))
    assert first.model.func is not again.model.func  # type: ignore[attr-defined]  # two loads, two classes
    assert identity(first, ctx) == identity(again, ctx)


CPU = torch.device("cpu")
CONFIG = TrainingConfig(knobs={"width": 1.0, "depth": 1}, lr=1e-2, batch_size=32, epochs=2)


def test_a_unit_a_worker_finished_is_taken_from_the_run_folder_not_trained_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker leaves what it trained beside the unit's checkpoint: a run killed (or whose pool broke) before a
    step used it takes it from there, recordings and all, rather than train it again."""
    exp = load_spec(str(SPEC))
    run = RunContext(exp, CheckContext(exp, device=CPU, seed=None, budget="quick"), tmp_path,
                     journal=Journal(tmp_path, {"test": 1}))
    request = UnitRequest("unit", CONFIG, seed=5, label="unit", record=True)
    checkpoint = run.journal.partial(request.variant)
    assert checkpoint is not None
    monkeypatch.setattr(pool_module, "_STATE", WorkerState(exp, CPU))  # as in a worker process
    sent = TrainedUnit.unpacked(train_job(UnitJob(request, str(checkpoint))))  # type: ignore[arg-type]
    assert handed_back(checkpoint).exists()
    assert TrainedUnit.left_at(checkpoint, UnitRequest("unit", CONFIG, seed=6, label="unit")) is None  # other seed

    monkeypatch.setattr(units_module, "train_config", lambda *a, **k: pytest.fail("trained again"))
    result = run_unit(run, "unit", CONFIG, label="unit", seed=5)
    assert result == sent.result and result.records == sent.result.records
    assert set(run.journal.saved("unit")["extras"]) == {k for k, v in sent.extras.items() if v is not None}
    assert not handed_back(checkpoint).exists()  # journaled: the handed-back file is gone


def test_a_broken_pool_stops_its_other_workers_before_the_run_goes_on_alone() -> None:
    """A worker that refuses (or dies) mid-run: the others must stop, or they would train what this process
    trains now, into the same files."""
    exp = load_spec(str(SPEC))
    ctx = CheckContext(exp, device=CPU, seed=None, budget="quick")
    setup = setup_for(exp, workers=2, device=CPU, identity=identity(exp, ctx), seed=exp.seed, budget="quick")
    assert setup is not None
    pool = UnitPool(setup, 2)
    pool.executor()  # both start, build the experiment and find it the run's
    # by pid: the pool's own thread may reap a worker while this one asks its Process object
    workers = [psutil.Process(p.pid) for p in pool._executor._processes.values()]  # type: ignore[union-attr]
    assert len(workers) == 2 and all(w.is_running() for w in workers)
    progress = _Notes()
    pool.fall_back(WorkerRefused("its experiment differs"), progress)
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive
    assert progress.notes == [pool.broken] and "refused to work" in progress.notes[0]
    assert "went on in one process" in progress.notes[0]


@pytest.mark.slow
def test_ctrl_c_stops_a_parallel_run_and_its_workers_without_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SPEC.parent)}
    cmd = [sys.executable, "-m", "nnrecipe", "run", str(SPEC), "--budget", "quick", "--out", str(tmp_path / "run"),
           "--device", "cpu", "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 240
    workers: list[psutil.Process] = []
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        with contextlib.suppress(psutil.Error):
            workers = [c for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]
    assert len(workers) == 2, "the run's workers never started"
    time.sleep(3)  # training
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()[-2000:]
    assert "Traceback" not in err.decode() and "interrupted" in err.decode(), err.decode()[-2000:]
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive


# -- pruning against earlier trials only


def _study(values: dict[int, list[float]], *, running: int | None = None) -> optuna.Study:
    """A study whose trial n reported `values[n]` at steps 0, 1, ...; all complete but `running`."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for number in sorted(values):
        trial = study.ask()
        for step, value in enumerate(values[number]):
            trial.report(value, step)
        if number != running:
            study.tell(trial, values[number][-1])
    return study


def _frozen(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    return study.get_trials(deepcopy=False)[number]


def test_a_trial_below_the_median_of_earlier_trials_at_its_step_is_pruned_only_after_the_warmup() -> None:
    earlier = {0: [0.5, 0.8, 0.9], 1: [0.5, 0.7, 0.85], 2: [0.4, 0.6, 0.8]}
    study = _study({**earlier, 3: [0.3, 0.5, 0.6]}, running=3)
    pruner = EarlierTrialsPruner(startup_trials=3, warmup_steps=2)
    assert pruner.prune(study, _frozen(study, 3))  # best so far 0.6 < median 0.85 at step 2
    assert not EarlierTrialsPruner(startup_trials=3, warmup_steps=3).prune(study, _frozen(study, 3))  # in warmup
    assert not EarlierTrialsPruner(startup_trials=4, warmup_steps=2).prune(study, _frozen(study, 3))  # too few
    good = _study({**earlier, 3: [0.5, 0.8, 0.88]}, running=3)
    assert not pruner.prune(good, _frozen(good, 3))


def test_later_trials_never_decide_and_an_earlier_running_trial_is_waited_for() -> None:
    """Trial 2 is judged against trials 0 and 1 only, whatever trial 3 reported; while trial 1 runs short of the
    step, the decision waits for its value (a worker side by side), then prunes on it."""
    study = _study({0: [0.9, 0.9], 1: [0.9], 2: [0.5, 0.5], 3: [0.1, 0.1]}, running=1)
    pruner = EarlierTrialsPruner(startup_trials=2, warmup_steps=1, poll=0.01)
    trial_1 = optuna.trial.Trial(study, study.get_trials(deepcopy=False)[1]._trial_id)

    def report_late() -> None:
        time.sleep(0.3)
        trial_1.report(0.9, 1)

    late = threading.Thread(target=report_late)
    started = time.perf_counter()
    late.start()
    pruned = pruner.prune(study, _frozen(study, 2))
    late.join()
    assert time.perf_counter() - started >= 0.3
    assert pruned  # 0.5 below the median of trials 0 and 1 at step 1 (0.9); trial 3's 0.1 never counted


def test_a_decision_no_running_earlier_trial_could_change_is_made_without_waiting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 3 is still running short of the step: whatever it reports (or if it never gets there), a trial
    far below the median is pruned and one far above kept, at once; so is one with too few earlier trials."""
    monkeypatch.setattr(time, "sleep", lambda _: pytest.fail("waited for a value that could not matter"))
    earlier = {0: [0.9, 0.9], 1: [0.9, 0.9], 2: [0.9, 0.9], 3: [0.9]}
    pruner = EarlierTrialsPruner(startup_trials=3, warmup_steps=1)
    low = _study({**earlier, 4: [0.1, 0.1]}, running=3)
    assert pruner.prune(low, _frozen(low, 4))
    high = _study({**earlier, 4: [0.95, 0.95]}, running=3)
    assert not pruner.prune(high, _frozen(high, 4))
    few = _study({0: [0.9, 0.9], 1: [0.9], 2: [0.1, 0.1]}, running=1)  # 2 earlier trials, 3 needed
    assert not pruner.prune(few, _frozen(few, 2))


def test_pruning_saved_counts_the_epochs_pruned_trials_did_not_train() -> None:
    rows = [{"state": "complete", "epochs": 30}, {"state": "pruned", "epochs": 15}, {"state": "pruned", "epochs": 20},
            {"state": "fail", "epochs": 3}]
    saved = pruning_saved(rows, epochs=30)
    assert saved == {"pruned": 2, "epochs_trained": 65, "epochs_without_pruning": 90, "saved": pytest.approx(25 / 90)}
