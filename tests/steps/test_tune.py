"""Step 5: the search space from step 4's findings, per-trial random draws, pruning, the report, SQLite resume."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import tiny_spec
import torch
from optuna.trial import TrialState

from nnrecipe import knobs
from nnrecipe.engine.loop import Callback, EpochRecord
from nnrecipe.progress import Progress
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.regularize import what_mattered
from nnrecipe.steps.tune import (
    NOISE,
    TUNE_BUDGETS,
    Heartbeat,
    StudyDefinition,
    TrialRunner,
    TrialSeededSampler,
    best_so_far,
    definition_for,
    importance,
    open_storage,
    open_study,
    redact,
    run_trials,
    run_trials_alone,
    search_space,
    searchable,
    summarize,
    trial_config,
    trials_table,
)

SPEC = str(Path(tiny_spec.__file__))
BASE = TrainingConfig(knobs={"width": 1.0, "depth": 1}, lr=3e-3, batch_size=32, epochs=3)


def _row(change: str, acc: float, *, kept: bool, varies: list[str] | None = None) -> dict[str, object]:
    row: dict[str, object] = {"change": change, "val_accuracy": acc, "kept": kept}
    if varies is not None:
        row["varies"] = varies
    return row


def _searched(tried: list[dict[str, object]]) -> dict[str, str]:
    """What tune searches after step 4 tried these changes: what moved the score, of what it can vary."""
    return searchable(what_mattered(tried, metric="accuracy", higher_is_better=True, thresholds=NOISE))


def test_knobs_that_moved_the_score_either_way_matter_and_noise_does_not() -> None:
    tried = [_row("baseline", 0.90, kept=True),
             _row("augment", 0.95, kept=True, varies=["augment"]),                # helped: matters
             _row("weight-decay", 0.951, kept=False, varies=["weight_decay"]),    # always searched anyway
             _row("dropout 0.1", 0.9505, kept=False, varies=["knob:dropout"]),    # within the margin: does not matter
             _row("smaller-model", 0.80, kept=False, varies=["knob:width"]),      # hurt a lot: the width matters
             {"change": "larger-model", "config": "...", "kept": False, "note": "not tried: no knobs"},
             _row("smaller-batch", 0.9510, kept=False, varies=["batch_size"])]  # compared with 0.95 (augment, kept)
    found = _searched(tried)
    assert set(found) == {"augment", "knob:width"}
    assert "0.95 -> 0.8" in found["knob:width"]
    # a candidate measured again under the final schedule counts under its own name; a table written before rows
    # said what they vary is read by the candidate's name
    retested = [*tried, _row("label-smoothing (one-cycle)", 0.96, kept=True)]
    assert set(_searched(retested)) == {"augment", "knob:width",
                                                                                          "label_smoothing"}


def test_the_space_puts_lr_and_weight_decay_first_around_the_settled_config() -> None:
    declared = knobs.declared(tiny_spec.experiment())
    base = BASE.replace(batch_size=64, knobs={"width": 2.0, "depth": 1})
    space = search_space(base, {"batch_size": "x", "knob:width": "y", "knob:dropout": "z"}, declared=declared)
    assert [p.name for p in space] == ["lr", "weight_decay", "knob:dropout", "knob:width", "batch_size"]
    lr = space[0]
    assert lr.kind == "log" and lr.low == pytest.approx(3e-4) and lr.high == pytest.approx(3e-2)
    # a regularizer draws from the factory's default and its values, a capacity knob from its neighbours
    assert space[2].kind == "choice" and space[2].choices == (0.0, 0.1, 0.3)
    assert space[3].choices == (1.0, 2.0, 4.0)
    assert space[4].choices == (32, 64, 128)
    smoothing = search_space(BASE, {"label_smoothing": "z"})[2]
    assert (smoothing.name, smoothing.kind, smoothing.low, smoothing.high) == ("label_smoothing", "uniform", 0.0, 0.2)
    drawn = trial_config(base, {"lr": 1e-3, "knob:width": 4.0, "knob:dropout": 0.1})
    assert drawn.knobs == {"width": 4.0, "depth": 1, "dropout": 0.1} and drawn.lr == 1e-3


def test_without_step_4_every_declared_knob_is_searched_and_trial_zero_keeps_the_defaults() -> None:
    definition = definition_for(tiny_spec.experiment(), BASE, seed=1, mattered=None)
    names = [p.name for p in definition.space]
    assert {"knob:width", "knob:depth", "knob:dropout", "augment", "batch_size"} <= set(names)
    assert definition.base.knobs == {"width": 1.0, "depth": 1, "dropout": 0.0}  # the factory's dropout, said


def test_random_draws_depend_only_on_seed_trial_number_and_parameter() -> None:
    def draws(seed: int, trials: int) -> list[dict[str, float]]:
        study = optuna.create_study(sampler=TrialSeededSampler(seed))
        out = []
        for _ in range(trials):
            t = study.ask()
            out.append({"lr": t.suggest_float("lr", 1e-4, 1e-1, log=True), "c": t.suggest_categorical("c", [1, 2, 3])})
            study.tell(t, 0.0)
        return out

    first, again, other = draws(1, 6), draws(1, 6), draws(2, 6)
    assert first == again  # a second worker or a resumed run draws the same configuration for the same trial
    assert first != other
    assert len({d["lr"] for d in first}) == 6  # each trial number draws anew
    assert all(1e-4 <= d["lr"] <= 1e-1 for d in first)


def _definition(exp: object = None) -> StudyDefinition:
    return definition_for(exp or tiny_spec.experiment(), BASE, seed=1, mattered=None)


def test_trial_zero_is_the_settled_configuration_and_trials_keep_their_weights() -> None:
    exp = tiny_spec.experiment()
    study, definition = open_study(open_storage(None), "s", _definition(exp), budget=TUNE_BUDGETS["quick"])
    runner = TrialRunner(exp, definition, 3, torch.device("cpu"), None)
    assert run_trials(study, runner, trials=3) == 3
    trials = sorted(study.trials, key=lambda t: t.number)
    assert trials[0].params["lr"] == pytest.approx(BASE.lr) and trials[0].user_attrs["incumbent"]
    assert len({t.params["lr"] for t in trials}) == 3
    for t in trials:
        if t.state == TrialState.COMPLETE:
            saved = runner.in_memory[t.number]
            assert TrainingConfig.from_dict(saved["config"]).lr == pytest.approx(t.params["lr"])
            assert t.value == pytest.approx(t.user_attrs["val"]["accuracy"])


class _PruneAfterFirstEpoch(optuna.pruners.BasePruner):
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return bool(trial.intermediate_values) and max(trial.intermediate_values) >= 1


def test_a_trial_the_pruner_stops_is_pruned_after_the_epoch_it_was_judged() -> None:
    exp = tiny_spec.experiment()
    definition = _definition(exp)
    study = optuna.create_study(direction="maximize", pruner=_PruneAfterFirstEpoch(),
                                sampler=TrialSeededSampler(0))
    runner = TrialRunner(exp, definition, 5, torch.device("cpu"), None)
    run_trials(study, runner, trials=1)
    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED
    assert sorted(trial.intermediate_values) == [0, 1] and trial.user_attrs["epochs_run"] == 2
    assert trial.number not in runner.in_memory  # only completed trials keep weights


def _synthetic_study(n: int) -> optuna.Study:
    """Trials whose score depends on lr only: importance must say so."""
    study = optuna.create_study(direction="maximize")
    dists = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True),
             "weight_decay": optuna.distributions.FloatDistribution(1e-5, 0.3, log=True)}
    gen = torch.Generator().manual_seed(0)
    for _i in range(n):
        lr, wd = 10 ** (-4 + 3 * torch.rand(1, generator=gen).item()), 10 ** (-5 + 4 * torch.rand(1, generator=gen).item())
        value = 1 - abs(math.log10(lr) + 2.5) / 3
        study.add_trial(optuna.trial.create_trial(params={"lr": lr, "weight_decay": wd}, distributions=dists,
                                                  value=value))
    return study


def test_importance_finds_the_parameter_the_score_depends_on_and_declines_with_too_few_trials() -> None:
    found = importance(_synthetic_study(12))
    assert found["available"] and found["values"]["lr"] > found["values"]["weight_decay"]
    few = importance(_synthetic_study(3))
    assert not few["available"] and "needs 4" in few["reason"]


def test_best_so_far_never_gets_worse_and_counts_every_finished_trial() -> None:
    study = _synthetic_study(8)
    curve = best_so_far(study, higher_is_better=True)
    assert [p["trials"] for p in curve] == list(range(1, 9))
    bests = [p["best"] for p in curve]
    assert bests == sorted(bests) and bests[-1] == pytest.approx(study.best_value)


def test_the_report_has_the_trials_the_best_config_and_says_when_none_completed() -> None:
    exp = tiny_spec.experiment()
    study, definition = open_study(open_storage(None), "s", _definition(exp), budget=TUNE_BUDGETS["quick"])
    run_trials(study, TrialRunner(exp, definition, 2, torch.device("cpu"), None), trials=2)
    result = summarize(study, definition, storage=None)
    assert result.status == "pass" and len(result.details["trials"]) == 2
    assert result.details["best"]["value"] == pytest.approx(study.best_value)

    # wrong input size: every trial raises
    broken = exp.replace(model=lambda: torch.nn.Linear(3, 4), capacity=None, regularizers=None)
    definition = definition_for(broken, TrainingConfig(batch_size=32, epochs=2), seed=1, mattered={})
    study, definition = open_study(open_storage(None), "t", definition, budget=TUNE_BUDGETS["quick"])
    run_trials(study, TrialRunner(broken, definition, 2, torch.device("cpu"), None), trials=2)
    result = summarize(study, definition, storage=None)
    assert result.status == "fail" and "no trial completed" in result.summary and "2 failed" in result.summary


def test_storage_urls_are_reported_without_their_password() -> None:
    assert redact("postgresql://me:secret@db:5432/x") == "postgresql://me:***@db:5432/x"
    assert redact("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"


# -- SQLite resume: a tuning run killed and started again does not redo its finished trials


class _CtrlC(Callback):
    def on_epoch_end(self, record: EpochRecord, model: torch.nn.Module) -> bool:
        if record.epoch == 1:
            raise KeyboardInterrupt
        return False


class _InterruptTrial(Progress):
    """Stands in for Ctrl-C (or a kill) in the middle of one trial's training."""

    def __init__(self, label: str) -> None:
        self.label = label

    def training(self, label: str, epochs: int) -> Callback | None:
        return _CtrlC() if label.startswith(self.label) else None


def test_a_run_interrupted_mid_trial_resumes_that_trial_and_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    exp = tiny_spec.experiment()

    def tune(url: str, folder: Path, progress: Progress) -> optuna.Study:
        study, d = open_study(open_storage(url, heartbeat=None), "alone", _definition(exp), budget=TUNE_BUDGETS["quick"])
        run_trials_alone(study, TrialRunner(exp, d, 4, torch.device("cpu"), folder, progress), trials=4)
        return study

    clean = tune(f"sqlite:///{tmp_path / 'clean.db'}", tmp_path / "clean", Progress())
    url, folder = f"sqlite:///{tmp_path / 'killed.db'}", tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        tune(url, folder, _InterruptTrial("trial 2"))
    assert (folder / "partial-0002.pt").exists()  # the interrupted trial's last epoch is saved
    first = {p.name: p.stat().st_mtime_ns for p in folder.glob("trial-*.pt")}
    resumed = tune(url, folder, Progress())
    assert first and all((folder / name).stat().st_mtime_ns == t for name, t in first.items())  # not redone
    assert [t.state for t in resumed.trials] == [t.state for t in clean.trials]  # no failed trial, same numbers
    assert trials_table(resumed, timings=False) == trials_table(clean, timings=False)


def _tune_cmd(out: Path, trials: int) -> list[str]:
    return [sys.executable, "-m", "nnrecipe", "tune", SPEC, "--out", str(out), "--study", "resume",
            "--trials", str(trials), "--budget", "quick", "--heartbeat", "1", "--device", "cpu"]


def _finished(url: str) -> list[optuna.trial.FrozenTrial]:
    with warnings_quiet():
        try:
            study = optuna.load_study(study_name="resume", storage=open_storage(url, heartbeat=Heartbeat(interval=1, grace=3)))
        except KeyError:  # the database file exists but the tuner has not created the study in it yet
            return []
    return [t for t in study.get_trials() if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def warnings_quiet():  # type: ignore[no-untyped-def]
    from nnrecipe.steps.tune import quiet_optuna

    return quiet_optuna()


@pytest.mark.timeout(600)
def test_a_killed_tuning_run_resumes_without_redoing_finished_trials(tmp_path: Path) -> None:
    out, url = tmp_path / "run", f"sqlite:///{tmp_path / 'run' / 'tune' / 'study.db'}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_tune_cmd(out, 40), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "tune" / "study.db").exists() and len(_finished(url)) >= 1:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    before = {t.number: (t.state, t.value, t.datetime_complete) for t in _finished(url)}
    assert len(before) >= 1
    total = len(before) + 2
    again = subprocess.run(_tune_cmd(out, total), env=env, capture_output=True, text=True, timeout=480)
    assert again.returncode == 0, again.stderr[-2000:]
    after = {t.number: (t.state, t.value, t.datetime_complete) for t in _finished(url)}
    assert len(after) == total  # only the remainder ran
    assert {n: after[n] for n in before} == before  # the finished trials are untouched, not redone


def test_tune_usage_errors_exit_2_with_a_message_and_no_traceback(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from nnrecipe.cli import main

    assert main(["tune", SPEC, "--workers", "0", "--out", str(tmp_path)]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["tune", SPEC, "--storage", "nosuchdb://nowhere/x", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "storage 'nosuchdb://nowhere/x'" in err and "Traceback" not in err
