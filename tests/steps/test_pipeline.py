"""`run_pipeline`: steps 1 to 4 behind their gates, the settled config, and scores that never chose anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tiny_spec
import torch

from nnrecipe.errors import UsageError
from nnrecipe.steps import pipeline
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.pipeline import run_pipeline, run_report
from nnrecipe.steps.training import train_config


@pytest.fixture(autouse=True)
def _steps_1_to_4(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about steps 1 to 4 and their gates: the steps after them are left out."""
    assert [stage for stage, _ in pipeline.STEPS[:4]] == ["data", "skeleton", "overfit", "regularize"]
    monkeypatch.setattr(pipeline, "STEPS", pipeline.STEPS[:4])


def test_a_correct_spec_goes_through_steps_1_to_4_and_keeps_its_config(tmp_path: Path) -> None:
    rng_before = torch.random.get_rng_state()
    report = run_report(tiny_spec.experiment(), device="cpu", budget="quick", out_dir=tmp_path)
    result = report.result
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the user's random state is left as found
    steps = {s.step: s for s in result.steps}
    assert [s.step for s in result.steps] == ["data", "skeleton", "overfit", "regularize"]
    assert all(s.status == "pass" for s in result.steps), [(s.step, s.summary) for s in result.steps]
    tried = steps["regularize"].details["tried"]
    assert tried[0]["change"] == "baseline"
    assert {r["change"] for r in tried} >= {"augment", "weight-decay", "larger-model", "one-cycle schedule"}
    curve = steps["regularize"].details["learning_curve"]
    assert [p["fraction"] for p in curve["points"]] == [0.1, 0.25, 0.5, 1.0]
    # the final model is the best on validation among what was tried, and its config is in the run folder
    best = max(r["val_accuracy"] for r in tried if "val_accuracy" in r)
    assert result.scores["val"]["accuracy"] == pytest.approx(best)
    saved = TrainingConfig.from_dict(json.loads((tmp_path / "config.json").read_text())["config"])
    assert saved == TrainingConfig.from_dict(dict(steps["regularize"].details["config"]))
    assert "test" in result.scores and result.scores["test"]["accuracy"] > 0.9
    # each training step records the scores of the model it ended with: the gain of each step reads off them
    assert steps["regularize"].scores == result.scores
    assert steps["overfit"].scores["val"]["accuracy"] == pytest.approx(steps["overfit"].details["ladder"][-1]["val_accuracy"])
    assert not steps["data"].scores and "scores" in steps["overfit"].to_dict()
    # a candidate is measured again under the final schedule only when constant lr turned it down
    for row in tried:
        if row["change"].endswith("(one-cycle)"):
            first = next(r for r in tried if r["change"] == row["change"].removesuffix(" (one-cycle)"))
            assert not first["kept"]
    # the report's recordings come from the training of the model that was kept
    history = report.pictures.run["final_history"]
    final_row = [r for r in tried if r.get("kept")][-1]  # the baseline counts as kept
    assert len(history.epochs) == final_row["epochs"] and len(history.step_losses) == len(history.step_lrs)
    assert {"input_batch", "prediction_dynamics"} <= set(report.pictures.run)


def test_until_stops_after_the_named_step_and_says_so() -> None:
    result = run_pipeline(tiny_spec.experiment(), device="cpu", budget="quick", until="overfit")
    steps = {s.step: s for s in result.steps}
    assert steps["overfit"].status == "pass" and steps["overfit"].scores
    assert steps["regularize"].status == "skip" and "--until" in steps["regularize"].summary
    # The run's model would be step 3's, but the experiment as written (Adam 1e-2, 3 epochs) does better on
    # validation than step 3's plain Adam 3e-4: the setup as written wins, and the step says so.
    assert result.baseline["scores"]["val"]["accuracy"] > steps["overfit"].scores["val"]["accuracy"]
    assert result.baseline["chosen"] and result.scores == result.baseline["scores"]
    assert "the experiment as written did better on validation" in steps["overfit"].summary
    with pytest.raises(UsageError, match="did you mean 'regularize'"):
        run_pipeline(tiny_spec.experiment(), device="cpu", until="regularise")  # type: ignore[arg-type]


def test_the_settled_config_trains_again_to_the_same_model(tmp_path: Path) -> None:
    exp = tiny_spec.experiment()
    cfg = TrainingConfig(knobs={"width": 1.0, "depth": 1}, lr=3e-3, batch_size=32, epochs=4, patience=2)
    first = train_config(exp, cfg, device=torch.device("cpu"), seed=3)
    again = train_config(exp, cfg, device=torch.device("cpu"), seed=3)
    assert first.val == again.val


def test_a_broken_spec_stops_at_its_gate_with_the_failing_checks_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNRECIPE_TINY_BROKEN", "init")
    result = run_pipeline(tiny_spec.experiment(), device="cpu", budget="quick")
    steps = {s.step: s for s in result.steps}
    assert steps["skeleton"].status == "fail" and "init-loss" in steps["skeleton"].summary
    assert steps["overfit"].status == "skip" and "skeleton failed" in steps["overfit"].summary
    assert steps["regularize"].status == "skip"
    assert result.failed and not result.scores  # no model was trained past the gate


def test_force_goes_past_a_failed_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNRECIPE_TINY_BROKEN", "init")
    result = run_pipeline(tiny_spec.experiment(), device="cpu", budget="quick", force=True)
    assert [s.status for s in result.steps][1] == "fail"
    assert {s.step for s in result.steps if s.status != "skip"} >= {"overfit", "regularize"}


def test_a_model_that_cannot_fit_fails_step_3_with_what_was_tried() -> None:
    import toy

    # labels independent of the inputs, a model of 36 parameters: nothing to fit, no capacity to memorize
    g = torch.Generator().manual_seed(0)
    noise = torch.utils.data.TensorDataset(torch.randn(256, 8, generator=g), torch.randint(0, 4, (256,), generator=g))
    def tiny(width: int = 2) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(8, width), torch.nn.Linear(width, 4))

    # with capacity knobs the ladder tries larger models, and none fits: the recipe's alarm
    exp = toy.classification(train=noise, model=tiny, capacity={"width": [1, 2, 3]})
    result = run_pipeline(exp, device="cpu", budget="quick", force=True)
    overfit = next(s for s in result.steps if s.step == "overfit")
    assert overfit.status == "fail"
    assert "train loss" in overfit.summary and len(overfit.details["ladder"]) >= 2
    assert not any(row["fit"] for row in overfit.details["ladder"])
    # the experiment's own model alone, with nothing larger to try: a warn that says what to declare
    alone = run_pipeline(toy.classification(train=noise, model=lambda: torch.nn.Linear(8, 4)), device="cpu",
                         budget="quick", force=True, until="overfit")
    overfit = next(s for s in alone.steps if s.step == "overfit")
    assert overfit.status == "warn" and "no capacity knob" in overfit.summary
    assert "the experiment's model: train loss" in overfit.summary
