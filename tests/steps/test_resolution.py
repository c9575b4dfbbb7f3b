"""Step 3's bottom rung for signals and images: the same model at half the input resolution, then at full."""

from __future__ import annotations

import pytest
import tiny_spec
import torch

from nnrecipe.errors import UsageError
from nnrecipe.steps import pipeline
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.overfit import OverfitThresholds, judge, ladder, run_overfit
from nnrecipe.steps.pipeline import run_pipeline
from nnrecipe.steps.resolution import ReducedResolution, reduce_resolution
from nnrecipe.steps.training import build_model, model_factory


def test_half_resolution_averages_neighbours_and_keeps_the_shape() -> None:
    signal = torch.tensor([[1.0, 3.0, 5.0, 7.0, 9.0]])  # odd length: the last sample is a group of its own
    assert torch.equal(reduce_resolution(signal, 2, kind="signal"), torch.tensor([[2.0, 2.0, 6.0, 6.0, 9.0]]))
    channels = torch.arange(16.0).reshape(2, 2, 4)  # (B, C, L): each channel pooled on its own
    assert torch.equal(reduce_resolution(channels, 2, kind="signal")[1, 1], torch.tensor([12.5, 12.5, 14.5, 14.5]))
    image = torch.arange(16.0).reshape(1, 1, 4, 4)
    reduced = reduce_resolution(image, 2, kind="image")
    assert reduced.shape == image.shape
    assert torch.equal(reduced[0, 0, :2, :2], torch.full((2, 2), 2.5))  # the mean of 0, 1, 4, 5
    assert torch.equal(reduce_resolution(image, 1, kind="image"), image)


def test_a_config_at_reduced_resolution_wraps_the_model_and_needs_signals_or_images() -> None:
    signal = _signal_experiment()
    model = build_model(signal, TrainingConfig(knobs={"width": 0.5}, resolution=0.5), device=torch.device("cpu"),
                        seed=0)
    assert isinstance(model, ReducedResolution) and model.factor == 2
    with pytest.raises(UsageError, match="signal or image"):
        model_factory(tiny_spec.experiment(), TrainingConfig(knobs={"width": 0.5}, resolution=0.5))
    with pytest.raises(UsageError, match=r"\(0, 1\]"):
        TrainingConfig(resolution=0.0)


def test_the_ladder_of_a_signal_starts_at_half_resolution_and_changes_one_thing_per_rung() -> None:
    rungs = ladder(_signal_experiment(), max_rungs=4)
    assert [(r.knobs["width"], r.knobs["depth"], r.resolution) for r in rungs] == [
        (0.5, 1, 0.5), (0.5, 1, 1.0), (1.0, 1, 1.0), (1.0, 2, 1.0)]
    assert all(r.resolution == 1.0 for r in ladder(tiny_spec.experiment(), max_rungs=6))  # no kind: no such rung


def test_a_fit_at_reduced_resolution_does_not_end_the_ladder(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"model": "width 0.5, input resolution 0.5", "train_loss": 0.01, "train_accuracy": 1.0, "fit": True,
             "flag": False, "epochs": 5, "resolution": 0.5},
            {"model": "width 0.5", "train_loss": 0.5, "train_accuracy": 0.8, "fit": False, "flag": True,
             "epochs": 9, "resolution": 1.0}]
    status, summary = judge(rows, epochs=9)
    assert status == "fail" and "input resolution 0.5" in summary

    # a fit bar low enough for the half-resolution rung to clear (it reaches ~48% on these blobs): the ladder
    # goes on, and the run settles on a full-resolution model
    stages = [(stage, (lambda run, so_far: run_overfit(run, OverfitThresholds(fit_accuracy=0.45)))
               if stage == "overfit" else step) for stage, step in pipeline.STEPS]
    monkeypatch.setattr(pipeline, "STEPS", tuple(stages))
    result = run_pipeline(_signal_experiment(), device="cpu", budget="quick", until="overfit")
    step = next(s for s in result.steps if s.step == "overfit")
    ladder_rows = step.details["ladder"]
    assert ladder_rows[0]["resolution"] == 0.5 and ladder_rows[0]["fit"], ladder_rows[0]
    assert len(ladder_rows) > 1 and ladder_rows[-1]["resolution"] == 1.0
    assert step.status == "pass" and "input resolution" not in step.summary.split(" fits ")[0]


def _signal_experiment():  # type: ignore[no-untyped-def]
    """The tiny spec's 8 features read as a signal of length 8."""
    exp = tiny_spec.experiment()
    return exp.replace(kind="signal")
