"""Step 6: the ensemble's average, distillation's loss, the choice on validation only, and load() round trips."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import tiny_spec
import torch
from torch import nn

import nnrecipe as nr
import toy
from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.ensemble import Ensemble
from nnrecipe.engine.loop import evaluate, predict
from nnrecipe.spec import load_spec
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.context import RunContext, Settled
from nnrecipe.steps.distill import DistillSettings, DistillStep
from nnrecipe.steps.journal import Journal
from nnrecipe.steps.squeeze import choose_final, run_squeeze
from nnrecipe.steps.training import train_config
from nnrecipe.steps.tune import (
    TUNE_BUDGETS,
    TrialRunner,
    TuneFindings,
    definition_for,
    open_storage,
    open_study,
    run_trials,
)

CPU = torch.device("cpu")


def _linear(weight: list[list[float]], bias: list[float]) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
    return layer


def test_the_ensemble_averages_probabilities_for_classes_and_outputs_for_regression() -> None:
    a = _linear([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], [0.0, 0.5, -1.0])
    b = _linear([[3.0, -1.0], [0.0, 0.0], [-2.0, 1.0]], [1.0, 0.0, 0.0])
    x = torch.tensor([[0.5, -1.0], [2.0, 0.3]])
    with torch.no_grad():
        by_hand = (torch.softmax(a(x), -1) + torch.softmax(b(x), -1)) / 2  # (B, C)
        out = Ensemble([a, b], task="classification")(x)
        assert torch.allclose(out.exp(), by_hand, atol=1e-6)
        assert torch.equal(out.argmax(-1), by_hand.argmax(-1))
        # cross-entropy on the output is the negative log of the averaged probability of the true class
        y = torch.tensor([2, 0])
        nll = float(-by_hand[[0, 1], y].log().mean())
        assert float(nn.functional.cross_entropy(out, y)) == pytest.approx(nll, rel=1e-5)
        reg = Ensemble([a, b], task="regression")(x)
        assert torch.allclose(reg, (a(x) + b(x)) / 2)


def test_the_ensemble_of_seeds_matches_or_beats_its_members_on_validation() -> None:
    exp = toy.classification(val=toy.blobs(512, seed=2))
    cfg = TrainingConfig(lr=3e-3, batch_size=32, epochs=2)  # short: the members are imperfect and disagree
    members = [train_config(exp, cfg, device=CPU, seed=s).model for s in range(4)]
    scores = [evaluate(m, exp.val, exp, device=CPU) for m in members]
    ens = evaluate(Ensemble(members, task="classification"), exp.val, exp, device=CPU)
    # Jensen: -log(mean p) <= mean(-log p), always; the accuracy gain holds in this seeded setting
    assert ens["loss"] <= sum(s["loss"] for s in scores) / len(scores) + 1e-6
    assert ens["accuracy"] >= max(s["accuracy"] for s in scores)


def test_distillation_soft_loss_is_zero_for_the_teacher_itself_and_matches_a_hand_computation() -> None:
    exp = toy.classification()
    teacher = _linear([[1.0] * 8, [0.5] * 8, [-1.0] * 8, [0.0] * 8], [0.0, 0.1, 0.2, 0.3])
    step = DistillStep(teacher, exp, DistillSettings(temperature=2.0, soft_weight=0.5))
    t_out = torch.randn(5, 4)
    assert float(step.soft_loss(t_out, t_out)) == pytest.approx(0.0, abs=1e-6)
    s_out = torch.randn(5, 4)
    p, q = torch.softmax(t_out / 2, -1), torch.softmax(s_out / 2, -1)
    by_hand = float((p * (p.log() - q.log())).sum(-1).mean() * 4)
    assert float(step.soft_loss(s_out, t_out)) == pytest.approx(by_hand, rel=1e-5)


def test_distillation_step_trains_toward_the_teacher_and_leaves_it_untouched() -> None:
    exp = toy.classification()
    teacher = train_config(exp, TrainingConfig(lr=3e-3, batch_size=32, epochs=3), device=CPU, seed=0).model
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student_exp = exp.replace(train_step=DistillStep(teacher, exp, DistillSettings()))
    student = train_config(student_exp, TrainingConfig(lr=3e-3, batch_size=32, epochs=3), device=CPU, seed=1).model
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    agree = (predict(student, exp.val, device=CPU)[0].argmax(-1) == predict(teacher, exp.val, device=CPU)[0].argmax(-1))
    assert agree.float().mean() > 0.9


def _table(**val: float) -> list[dict[str, object]]:
    # test scores that would pick another model, to show they are never read
    return [{"model": name, "val": {"accuracy": v}, "test": {"accuracy": 1.0 - v}} for name, v in val.items()]


def test_the_final_model_is_chosen_on_validation_with_ties_going_to_the_ensemble() -> None:
    kw = {"metric": "accuracy", "higher_is_better": True}
    assert choose_final(_table(ensemble=0.95, distilled=0.951, longer=0.94, best=0.93), **kw) == "ensemble"
    assert choose_final(_table(ensemble=0.95, distilled=0.96, longer=0.94, best=0.93), **kw) == "distilled"
    assert choose_final(_table(ensemble=0.90, distilled=0.96, longer=0.97, best=0.93), **kw) == "longer"


def _run(exp: nr.Experiment, folder: Path | None) -> RunContext:
    return RunContext(exp, CheckContext(exp, device=CPU, seed=None, budget="quick"), folder,
                      journal=Journal(folder, {"test": 1}))


# with label smoothing: distillation must train its student without it (the teacher's targets replace it)
SETTLED = Settled(config=TrainingConfig(knobs={"width": 1.0, "depth": 1}, lr=1e-2, batch_size=32, epochs=3,
                                        label_smoothing=0.1))


def _tuned(exp: nr.Experiment, trials: int) -> TuneFindings:
    assert SETTLED.config is not None
    definition = definition_for(exp, SETTLED.config, seed=3, mattered={})
    study, definition = open_study(open_storage(None), "s", definition, budget=TUNE_BUDGETS["quick"])
    runner = TrialRunner(exp, definition, 3, CPU, None)
    run_trials(study, runner, trials=trials)
    return TuneFindings.of(study, higher_is_better=definition.higher_is_better, folder=None,
                           in_memory=runner.in_memory)


def test_squeeze_builds_the_table_saves_every_model_and_load_round_trips_predictions(tmp_path: Path) -> None:
    exp = load_spec(str(Path(tiny_spec.__file__)))  # a spec file: its model class is not importable by name
    # fewer completed trials than the ensemble's 3: topped up with seeds
    outcome = run_squeeze(_run(exp, tmp_path), SETTLED, tuned=_tuned(exp, trials=2))
    result = outcome.result
    rows = {r["model"]: r for r in result.details["table"]}
    assert set(rows) == {"ensemble", "distilled", "longer", "best"}
    assert result.details["chosen"] in rows
    labels = [m["label"] for m in result.details["members"]]
    assert len(labels) == 3 and labels[0].startswith("trial") and labels[-1].startswith("best configuration, seed")
    assert result.details["longer_curve"], "the longer training's curve is reported"
    assert all("test" in r for r in rows.values())
    assert outcome.model is not None
    expected = torch.softmax(predict(outcome.model, exp.val, device=CPU)[0], -1)
    loaded = nr.load(tmp_path)
    assert loaded.name == result.details["chosen"]
    assert torch.equal(loaded.predict(exp.val), expected)
    x = exp.val.tensors[0]  # type: ignore[attr-defined]
    assert torch.equal(loaded.predict(x), expected)
    ensemble = nr.load(tmp_path, which="ensemble")
    assert len(ensemble.members) == 3 and isinstance(ensemble.model, Ensemble)
    assert evaluate(ensemble.model, exp.val, exp, device=CPU) == rows["ensemble"]["val"]


def test_load_rebuilds_from_a_given_experiment_and_never_unpickles(tmp_path: Path) -> None:
    exp = tiny_spec.experiment()  # made in Python: no spec file recorded
    run_squeeze(_run(exp, tmp_path), SETTLED, tuned=_tuned(exp, trials=3))
    with pytest.raises(nr.NnrecipeError, match="spec"):
        nr.load(tmp_path, which="distilled")
    loaded = nr.load(tmp_path, which="distilled", spec=exp)
    assert torch.equal(loaded.predict(exp.val), torch.softmax(predict(loaded.model, exp.val, device=CPU)[0], -1))
    assert math.isclose(evaluate(loaded.model, exp.val, exp, device=CPU)["accuracy"],
                        next(r for r in run_rows(tmp_path) if r["model"] == "distilled")["val"]["accuracy"])


def run_rows(folder: Path) -> list[dict[str, object]]:
    import json

    return json.loads((folder / "final" / "final.json").read_text())["table"]


def test_load_says_what_is_missing() -> None:
    with pytest.raises(nr.NnrecipeError, match="final/final.json"):
        nr.load("/nonexistent-run")


@pytest.mark.slow
def test_run_goes_through_all_six_steps_and_its_final_model_loads(tmp_path: Path) -> None:
    import json

    from nnrecipe.steps.pipeline import run_pipeline

    exp = tiny_spec.experiment()
    result = run_pipeline(exp, device="cpu", budget="quick", out_dir=tmp_path)
    assert [s.step for s in result.steps] == ["data", "skeleton", "overfit", "regularize", "tune", "squeeze"]
    assert all(s.status == "pass" for s in result.steps), [(s.step, s.summary) for s in result.steps]
    squeeze = result.steps[-1].details
    chosen = next(r for r in squeeze["table"] if r["model"] == squeeze["chosen"])
    assert result.scores["val"] == pytest.approx(chosen["val"])
    # every training step shows its own model's scores: tuning's is its best trial, squeezing's the final model
    steps = {s.step: s for s in result.steps}
    best_trial = max(t["value"] for t in steps["tune"].details["trials"] if t["state"] == "complete")
    assert steps["tune"].scores["val"]["accuracy"] == pytest.approx(best_trial)
    table = {r["model"]: r for r in squeeze["table"]}
    assert table["step 4"]["val"] == pytest.approx(steps["regularize"].scores["val"])
    assert steps["squeeze"].scores == result.scores
    json.dumps(result.to_dict())  # the document stays plain JSON
    loaded = nr.load(tmp_path, spec=exp)
    assert evaluate(loaded.model, exp.val, exp, device=CPU) == pytest.approx(result.scores["val"])


def test_only_trials_close_to_the_best_join_the_ensemble() -> None:
    from nnrecipe.steps.squeeze import EnsembleSettings, close_to_best

    s = EnsembleSettings(member_margin_accuracy=0.005, member_margin_relative=0.1)
    assert close_to_best(0.990, 0.994, higher_is_better=True, settings=s)
    assert not close_to_best(0.980, 0.994, higher_is_better=True, settings=s)
    assert close_to_best(0.105, 0.1, higher_is_better=False, settings=s)
    assert not close_to_best(0.2, 0.1, higher_is_better=False, settings=s)
    assert not close_to_best(float("nan"), 0.1, higher_is_better=False, settings=s)
