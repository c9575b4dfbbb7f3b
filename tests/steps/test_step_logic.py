"""Step 3 and 4 decisions on plain numbers: keep-only-if-it-helps, ladder flags, the learning curve's power law."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest

from nnrecipe.steps.config import BUDGETS, TrainingConfig
from nnrecipe.steps.learning_curve import fit_power_law, summarize_curve
from nnrecipe.steps.overfit import OverfitThresholds, fit_test, flag_rungs, judge, ladder, overfits
from nnrecipe.steps.regularize import RegularizeThresholds, beats, improves

T = RegularizeThresholds()


def test_accuracy_change_is_kept_only_above_the_noise_margin() -> None:
    assert improves(0.950, 0.940, higher_is_better=True, thresholds=T)
    assert not improves(0.941, 0.940, higher_is_better=True, thresholds=T)  # within one sample in 500
    assert not improves(0.930, 0.940, higher_is_better=True, thresholds=T)
    assert not improves(math.nan, 0.940, higher_is_better=True, thresholds=T)


def test_an_accuracy_tie_within_the_margin_is_broken_by_a_clearly_lower_validation_loss() -> None:
    best = {"accuracy": 0.990, "loss": 0.047}

    def kept(accuracy: float, loss: float) -> bool:
        return beats({"accuracy": accuracy, "loss": loss}, best, metric="accuracy", higher_is_better=True,
                     thresholds=T)

    assert kept(0.988, 0.033)  # one sample fewer right in 500, a loss 30% lower: kept
    assert not kept(0.988, 0.045)  # a tie and a loss only 4% lower: noise, not kept
    assert not kept(0.984, 0.020)  # three samples worse: the loss does not buy back a clear loss of accuracy
    assert kept(0.996, 0.090)  # a clear accuracy gain needs no help from the loss
    assert not kept(0.990, math.nan)
    regression = {"loss": 1.0, "accuracy": 0.5}
    assert not beats({"loss": 0.995}, regression, metric="loss", higher_is_better=False, thresholds=T)
    assert beats({"loss": 0.9}, regression, metric="loss", higher_is_better=False, thresholds=T)


def test_loss_change_is_kept_only_when_it_drops_by_the_relative_margin() -> None:
    assert improves(0.90, 1.00, higher_is_better=False, thresholds=T)
    assert not improves(0.995, 1.00, higher_is_better=False, thresholds=T)
    assert not improves(1.10, 1.00, higher_is_better=False, thresholds=T)


def test_a_rung_that_does_not_lower_the_training_loss_is_flagged() -> None:
    flags = flag_rungs([1.0, 0.5, 0.499, 0.7, 0.1], min_loss_drop=OverfitThresholds().min_loss_drop)
    assert flags == [False, False, True, True, False]
    assert flag_rungs([1.0, math.nan], min_loss_drop=0.02) == [False, True]


def test_power_law_recovers_known_exponent() -> None:
    sizes = [100, 250, 500, 1000]
    law = fit_power_law(sizes, [3.0 * n**-0.5 for n in sizes])
    assert law is not None
    assert law.b == pytest.approx(0.5, rel=1e-6)
    assert law.predict(4000) == pytest.approx(3.0 * 4000**-0.5, rel=1e-6)
    assert fit_power_law([100], [0.1]) is None


def test_learning_curve_predicts_more_data_in_the_metric_direction() -> None:
    points = [{"samples": n, "val_accuracy": 1 - 2.0 * n**-0.5} for n in (100, 400, 1600)]
    out = summarize_curve(points, metric="accuracy", higher_is_better=True, n_val=500, thresholds=T)
    assert out["predicted_val_accuracy"] == pytest.approx(1 - 2.0 * 3200**-0.5, rel=1e-6)
    assert out["predicted_val_accuracy"] > points[-1]["val_accuracy"]
    flat = [{"samples": n, "val_loss": 0.5} for n in (100, 400, 1600)]
    out = summarize_curve(flat, metric="loss", higher_is_better=False, n_val=500, thresholds=T)
    assert out["power_law"]["b"] == pytest.approx(0.0, abs=1e-9)  # more data is not predicted to help


def _row(model: str, loss: float, *, fit: bool, flag: bool = False) -> dict[str, object]:
    return {"model": model, "train_loss": loss, "train_accuracy": 1.0 if fit else 0.5, "fit": fit, "flag": flag,
            "epochs": 7}


def test_overfit_judge_passes_on_a_fitting_rung_and_fails_with_what_was_tried() -> None:
    status, summary = judge([_row("width 0.5", 1.2, fit=False), _row("width 1", 0.01, fit=True)], epochs=40)
    assert status == "pass" and "width 1" in summary and "7 epochs" in summary
    status, summary = judge([_row("width 0.5", 1.2, fit=False), _row("width 1", 1.3, fit=False, flag=True)],
                            epochs=40)
    assert status == "fail"
    assert "width 0.5: train loss 1.2" in summary and "width 1: train loss 1.3" in summary
    assert "flagged" in summary


def test_ladder_climbs_the_capacity_knobs_one_change_per_rung_and_a_spec_without_knobs_has_one_rung() -> None:
    import tiny_spec

    import toy

    rungs = ladder(tiny_spec.experiment(), max_rungs=6)
    assert [(r.knobs["width"], r.knobs["depth"]) for r in rungs] == [(0.5, 1), (1.0, 1), (1.0, 2), (2.0, 2),
                                                                    (2.0, 3), (4.0, 3)]
    for before, after in pairwise(rungs):
        assert sum(before.knobs[k] != after.knobs[k] for k in before.knobs) == 1
    assert rungs[1].change == "width 0.5 -> 1 (the experiment's model)" and rungs[2].change == "depth 1 -> 2"
    assert len(ladder(tiny_spec.experiment(), max_rungs=3)) == 3
    own = ladder(toy.classification(), max_rungs=5)
    assert [r.knobs for r in own] == [{}]


def test_the_ladder_goes_through_the_factory_defaults_even_when_the_lists_leave_them_out() -> None:
    from torch import nn

    import toy

    def net(hidden: int = 48, layers: int = 1) -> nn.Module:
        return nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), *[nn.Linear(hidden, hidden) for _ in range(layers - 1)],
                             nn.Linear(hidden, 4))

    exp = toy.classification(model=net, capacity={"hidden": [16, 32, 64, 128], "layers": [1, 2]})
    rungs = ladder(exp, max_rungs=5)
    # 48 sits between 32 and 64: one below is 32, one above is 64; layers is already at its smallest
    assert [(r.knobs["hidden"], r.knobs["layers"]) for r in rungs] == [(32, 1), (48, 1), (48, 2), (64, 2), (128, 2)]


def test_budgets_scale_up() -> None:
    quick, default, long = BUDGETS["quick"], BUDGETS["default"], BUDGETS["long"]
    for field in ("overfit_epochs", "ladder_rungs", "epochs", "final_epochs"):
        assert getattr(quick, field) <= getattr(default, field) <= getattr(long, field)
    assert len(quick.candidates) < len(default.candidates)


def test_config_round_trips_through_json() -> None:
    cfg = TrainingConfig(knobs={"width": 2.0, "depth": 4, "dropout": 0.1}, weight_decay=0.05, lr=3e-3, batch_size=64,
                         augment=True, schedule="onecycle", epochs=50, patience=None)
    assert TrainingConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(Exception, match="schedule"):
        TrainingConfig(schedule="cosine")  # type: ignore[arg-type]


def test_fit_means_near_perfect_training_accuracy_or_a_clear_generalization_gap() -> None:
    import toy

    test = fit_test(toy.classification(), OverfitThresholds())
    assert test({"loss": 0.05, "accuracy": 0.995}, {"loss": 0.06})
    assert not test({"loss": 0.40, "accuracy": 0.90}, {"loss": 0.45})  # underfit: train and val alike
    assert test({"loss": 0.20, "accuracy": 0.93}, {"loss": 0.60})  # label noise: it overfits nonetheless
    assert not overfits({"loss": 0.2}, {"loss": math.nan}, gap=0.5)
    regression = fit_test(toy.regression(), OverfitThresholds())
    assert regression({"loss": 0.01}, {"loss": 0.012})  # R^2 ~ 0.99 on targets of unit variance
    assert not regression({"loss": 0.30}, {"loss": 0.35})


def test_overfit_judge_warns_when_the_only_model_does_not_fit_and_there_is_nothing_larger() -> None:
    """No capacity knob: nothing larger to try, so not fitting in the step's budget is a warn, not a closed gate."""
    status, summary = judge([_row("the experiment's own model", 0.4, fit=False)], epochs=40, larger=False)
    assert status == "warn" and "no capacity knob" in summary
    status, _ = judge([_row("the experiment's own model", 0.4, fit=False)], epochs=40, larger=True)
    assert status == "fail"
