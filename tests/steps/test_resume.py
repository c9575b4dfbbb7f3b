"""Resumable training: a run stopped at any point continues where it stopped and ends exactly where an
uninterrupted run ends (same seed, CPU)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tiny_spec
import torch

from nnrecipe.engine.loop import Callback, EpochRecord, Optimization, fit
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.training import train_config

CPU = torch.device("cpu")
SPEC = Path(__file__).with_name("tiny_spec.py")


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_fit_resumed_at_any_epoch_replays_the_uninterrupted_run_bit_for_bit() -> None:
    exp = tiny_spec.experiment()
    def run(start: int, end: int, state: dict | None) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = exp.model(dropout=0.2)  # dropout and augmentation draw random numbers every step
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
        fit(model, exp, device=CPU, epochs=end, seed=5, optimization=Optimization(opt),
            batch_augment=exp.batch_augment, start_epoch=start)
        return model, opt

    whole, _ = run(0, 5, None)
    first, opt = run(0, 2, None)
    resumed, _ = run(2, 5, {"model": first.state_dict(), "opt": opt.state_dict()})
    assert _same(_weights(whole), _weights(resumed))
    other, _ = run(0, 5, None)
    assert _same(_weights(whole), _weights(other))


class _Crash(Callback):
    """Stands in for a kill: raises right after the checkpoint of `epoch` is written."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, record: EpochRecord, model: torch.nn.Module) -> bool:
        if record.epoch == self.epoch:
            raise KeyboardInterrupt
        return False


@pytest.mark.parametrize("schedule", ["constant", "onecycle"])
def test_train_config_resumes_from_its_checkpoint_to_the_same_result(tmp_path: Path, schedule: str) -> None:
    exp = tiny_spec.experiment()
    cfg = TrainingConfig(knobs={"width": 1.0, "depth": 2, "dropout": 0.1}, lr=3e-3, batch_size=32, augment=True,
                         schedule=schedule,
                         epochs=8, patience=3)
    whole = train_config(exp, cfg, device=CPU, seed=1)
    ckpt = tmp_path / "partial.pt"
    for crash_at in (1, 4):
        with pytest.raises(KeyboardInterrupt):
            train_config(exp, cfg, device=CPU, seed=1, checkpoint=ckpt, callbacks=[_Crash(crash_at)])
    resumed = train_config(exp, cfg, device=CPU, seed=1, checkpoint=ckpt)
    assert resumed.val == whole.val and resumed.best_epoch == whole.best_epoch
    assert resumed.records == whole.records
    assert _same(_weights(resumed.model), _weights(whole.model))


def _run(out: Path, *, kill_after: float | None = None, sig: int = signal.SIGKILL, spec: str | None = None) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(SPEC.parent)}
    cmd = [sys.executable, "-m", "nnrecipe", "run", spec or str(SPEC), "--budget", "quick", "--out", str(out),
           "--json", str(out / "doc.json"), "--device", "cpu"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(sig)
        proc.wait()
    return proc.returncode


def _outcome(out: Path) -> tuple[object, ...]:
    # the run folder's own path and the steps' wall times are what two runs legitimately differ in
    doc = json.loads((out / "doc.json").read_text().replace(str(out), "<run folder>"))
    for step in doc["steps"]:
        assert step.pop("seconds") >= 0
    model = torch.load(out / "model.pt", weights_only=False)
    return doc["steps"], doc["scores"], json.loads((out / "config.json").read_text()), model["model"]


@pytest.mark.slow
def test_a_run_killed_at_random_points_resumes_and_matches_the_uninterrupted_run(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    started = time.perf_counter()
    assert _run(clean) == 0
    full = time.perf_counter() - started
    reference = _outcome(clean)

    killed = tmp_path / "killed"
    rng = random.Random(6)
    finished_units: dict[str, float] = {}
    scale = 1.0  # shrinks when a run outpaces its kill: a machine whose load fell since the clean run
    for attempt, sig in enumerate((signal.SIGKILL, signal.SIGINT, signal.SIGKILL, signal.SIGKILL, signal.SIGKILL)):
        code = _run(killed, kill_after=rng.uniform(0.3, 1.0) * full * scale, sig=sig)
        if code == 0 and not finished_units:  # finished before any kill landed: start again, kill sooner
            shutil.rmtree(killed)
            scale /= 2
            continue
        if code == 0:
            break
        assert code in (-signal.SIGKILL, -signal.SIGINT, 130), f"attempt {attempt}: exit {code}"
        for unit in (killed / "units").glob("*.pt"):  # what was finished so far must never be redone
            finished_units.setdefault(unit.name, unit.stat().st_mtime_ns)
    assert _run(killed) == 0
    assert finished_units, "no unit of work finished before the kills: the test proves nothing"
    for name, mtime in finished_units.items():
        assert (killed / "units" / name).stat().st_mtime_ns == mtime, f"{name} was trained again"
    steps, scores, config, weights = _outcome(killed)
    for got, want in zip(steps, reference[0], strict=True):  # type: ignore[call-overload]
        assert got == want, f"step {want['step']} differs after resuming:\n{_first_difference(got, want)}"
    assert (scores, config) == reference[1:3]
    assert all(torch.equal(weights[k], reference[3][k]) for k in weights)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_digits_killed_at_twenty_random_points_resumes_to_the_uninterrupted_run(tmp_path: Path) -> None:
    """kill -9 at 20 random moments of `nnrecipe run digits --budget quick`; every rerun continues where the
    last stopped (a killed run's stale lock is taken over), and the end equals the uninterrupted run's."""
    clean = tmp_path / "clean"
    started = time.perf_counter()
    assert _run(clean, spec="digits") == 0
    full = time.perf_counter() - started
    reference = _outcome(clean)
    killed, rng, kills = tmp_path / "killed", random.Random(20), 0
    while kills < 20:
        # startup (imports, data) plus a slice of the run: twenty slices land across most of it
        code = _run(killed, kill_after=rng.uniform(2.0, 3.0) + rng.uniform(0.2, 1.0) * full / 30, spec="digits")
        if code == 0:
            break
        assert code == -signal.SIGKILL, f"kill {kills}: exit {code}"
        kills += 1
    assert kills == 20, f"only {kills} kills landed before the run finished"
    assert _run(killed, spec="digits") == 0
    steps, scores, config, weights = _outcome(killed)
    for got, want in zip(steps, reference[0], strict=True):  # type: ignore[call-overload]
        assert got == want, f"step {want['step']} differs after resuming:\n{_first_difference(got, want)}"
    assert (scores, config) == reference[1:3]
    assert all(torch.equal(weights[k], reference[3][k]) for k in weights)


def test_a_journal_written_under_other_settings_is_not_reused(tmp_path: Path) -> None:
    from nnrecipe.steps.journal import Journal

    first = Journal(tmp_path, {"seed": 0})
    first.finish("overfit/rung-0", {"val": {"accuracy": 0.5}}, model_state={})
    assert Journal(tmp_path, {"seed": 0}).done("overfit/rung-0") == {"val": {"accuracy": 0.5}}
    other = Journal(tmp_path, {"seed": 1})
    assert other.discarded and other.done("overfit/rung-0") is None
    assert not (tmp_path / "units").exists()


def _first_difference(got: object, want: object, path: str = "") -> str:
    if isinstance(got, dict) and isinstance(want, dict):
        for key in want:
            if got.get(key) != want[key]:
                return _first_difference(got.get(key), want[key], f"{path}.{key}")
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if g != w:
                return _first_difference(g, w, f"{path}[{i}]")
    return f"{path}: {got!r} != {want!r}"
