"""Pictures of steps 3-6 from real step results, and the checks' short run showing what goes into the net."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex

import toy
from conftest import image_experiment
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.skeleton import short_run
from nnrecipe.engine.loop import Callback
from nnrecipe.engine.observe import inputs as observed_inputs
from nnrecipe.report import figures
from nnrecipe.report.figures import steps as step_figures
from nnrecipe.report.html import render_html
from nnrecipe.results import Report, StepResult
from nnrecipe.runner import check_report
from nnrecipe.steps.learning_curve import summarize_curve
from nnrecipe.steps.regularize import RegularizeThresholds

sys.path.insert(0, str(Path(__file__).parents[1] / "steps"))
import tiny_spec  # noqa: E402  (the steps' tiny spec lives beside the steps tests)


@pytest.fixture(scope="module")
def real_run() -> Report:
    """Steps 3-6 of a real run on the tiny spec with the quick budget (~5 s; steps 1-2 are the checks')."""
    from nnrecipe.steps import pipeline

    torch.set_num_threads(1)
    with mock.patch.object(pipeline, "STEPS", pipeline.STEPS[2:]):
        return pipeline.run_report(tiny_spec.experiment(), device="cpu", budget="quick")


@pytest.fixture(scope="module")
def real_steps(real_run: Report) -> dict[str, StepResult]:
    return {s.step: s for s in real_run.result.steps}


def _png_size(data_uri: str) -> tuple[int, int]:
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1])))
    return image.size


@pytest.mark.parametrize("step_id", ["overfit", "regularize", "tune", "squeeze"])
def test_each_step_draws_a_picture_from_its_real_result(real_run: Report, real_steps: dict[str, StepResult],
                                                        step_id: str) -> None:
    step = real_steps[step_id]
    assert step.status == "pass", step.summary
    picture = figures.step_picture(step, real_run.pictures.step(step_id))
    assert picture is not None and picture.note is None, picture
    width, height = _png_size(picture.png or "")
    assert width > 600 and height > 200


@pytest.mark.parametrize("step_id", ["overfit", "regularize", "tune", "squeeze"])
def test_a_step_read_back_from_json_draws_from_its_details(real_steps: dict[str, StepResult], step_id: str) -> None:
    step = real_steps[step_id]
    document = step.to_dict()  # what result.json keeps: no pictures
    picture = figures.step_picture(StepResult(step_id, step.status, step.summary, details=document["details"]), {})
    assert picture is not None and picture.png is not None


def _scatter_colors(ax: Any) -> list[str]:
    return [to_hex(c) for c in ax.collections[0].get_facecolors()]


def test_the_ladder_marks_fitting_and_flagged_rungs(real_steps: dict[str, StepResult]) -> None:
    rows = [dict(r) for r in real_steps["overfit"].details["ladder"]]
    rows.insert(1, {**rows[0], "rung": 9, "change": "made up", "fit": False, "flag": True})
    fig = step_figures.overfit(StepResult("overfit", "pass", "", details={"ladder": rows}), {})
    ax_loss, ax_val = fig.axes
    expected = [step_figures.GOOD if r["fit"] else step_figures.BAD if r["flag"] else step_figures.PLAIN for r in rows]
    assert _scatter_colors(ax_loss) == expected
    np.testing.assert_allclose(ax_loss.collections[0].get_offsets()[:, 1], [r["train_loss"] for r in rows])
    np.testing.assert_allclose(ax_val.collections[0].get_offsets()[:, 1], [r["val_accuracy"] for r in rows])
    assert any("flagged" in t.get_text() for t in ax_loss.texts)


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_the_learning_curve_is_carried_to_twice_the_data(higher_is_better: bool) -> None:
    metric = "accuracy" if higher_is_better else "loss"
    errors = [0.4, 0.25, 0.16, 0.1]
    points = [{"fraction": f, "samples": n, f"val_{metric}": (1 - e) if higher_is_better else e}
              for f, n, e in zip([0.1, 0.25, 0.5, 1.0], [20, 50, 100, 200], errors, strict=True)]
    curve = summarize_curve(points, metric=metric, higher_is_better=higher_is_better, n_val=100,
                            thresholds=RegularizeThresholds())
    fig = step_figures.regularize(StepResult("regularize", "pass", "", details={"learning_curve": curve}), {})
    ax = fig.axes[0]
    star = next(line for line in ax.get_lines() if line.get_marker() == "*")
    assert star.get_xdata()[0] == pytest.approx(400)
    assert star.get_ydata()[0] == pytest.approx(curve[f"predicted_val_{metric}"])
    extrapolated = next(line for line in ax.get_lines() if line.get_linestyle() == ":")
    assert extrapolated.get_ydata()[-1] == pytest.approx(curve[f"predicted_val_{metric}"], rel=1e-6)


def test_the_candidates_bars_highlight_the_kept_changes(real_run: Report, real_steps: dict[str, StepResult]) -> None:
    tried = real_steps["regularize"].details["tried"]
    fig = step_figures.regularize(real_steps["regularize"], real_run.pictures.step("regularize"))
    bars = fig.axes[1].patches
    assert len(bars) == len(tried)
    kept = [to_hex(b.get_facecolor()) == step_figures.GOOD for b in bars]
    assert kept == [bool(r.get("kept")) for r in tried]
    baseline = fig.axes[1].get_lines()[0]
    assert baseline.get_xdata()[0] == pytest.approx(tried[0]["val_accuracy"])


def test_tuning_shows_the_best_so_far_and_the_importance(real_run: Report, real_steps: dict[str, StepResult]) -> None:
    curve = [{"trials": 1, "trial": 0, "value": 0.5, "best": 0.5}, {"trials": 2, "trial": 2, "value": None, "best": 0.5},
             {"trials": 3, "trial": 1, "value": 0.7, "best": 0.7}, {"trials": 4, "trial": 3, "value": 0.6, "best": 0.7}]
    trials = [{"trial": 2, "state": "pruned", "value": None, "last_reported": 0.2}]
    importance = {"available": True, "method": "fanova", "values": {"lr": 0.8, "width": 0.15, "weight_decay": 0.05}}
    fig = step_figures.tune(StepResult("tune", "pass", "", details={"curve": curve, "trials": trials,
                                                                    "metric": "accuracy", "importance": importance}), {})
    ax_curve, ax_imp = fig.axes
    best = next(line for line in ax_curve.get_lines() if line.get_label() == "best so far")
    np.testing.assert_allclose(best.get_ydata(), [0.5, 0.5, 0.7, 0.7])
    pruned = next(line for line in ax_curve.get_lines() if line.get_label().startswith("pruned"))
    assert list(pruned.get_xdata()) == [2] and list(pruned.get_ydata()) == [0.2]
    assert sorted(b.get_width() for b in ax_imp.patches) == pytest.approx([0.05, 0.15, 0.8])
    # the real run: importance unavailable (all trials scored the same), the reason written in its place
    real = step_figures.tune(real_steps["tune"], real_run.pictures.step("tune"))
    reason = real_steps["tune"].details["importance"].get("reason", "")
    assert reason and any(reason in t.get_text() for t in real.axes[1].texts)


def test_squeeze_compares_every_model_on_val_and_test(real_run: Report, real_steps: dict[str, StepResult]) -> None:
    step = real_steps["squeeze"]
    table, chosen = step.details["table"], step.details["chosen"]
    fig = step_figures.squeeze(step, real_run.pictures.step("squeeze"))
    score_ax, loss_ax, longer_ax = fig.axes
    assert len(score_ax.patches) == 2 * len(table)  # val and test per model
    labels = [t.get_text() for t in score_ax.get_xticklabels()]
    assert f"{chosen}\n(final)" in labels
    heights = {round(b.get_height(), 6) for b in loss_ax.patches}
    assert {round(r["val"]["loss"], 6) for r in table} <= heights
    assert len(longer_ax.get_lines()[0].get_xdata()) == len(step.details["longer_curve"])


ODD_DETAILS = [
    ("overfit", {"ladder": "not rows"}),
    ("overfit", {"ladder": [{"rung": 0}]}),
    ("regularize", {"learning_curve": {"points": [{"samples": 10, "val_accuracy": 0.5}], "metric": "accuracy",
                                       "power_law": {}, "predicted_val_accuracy": 0.6}}),
    ("regularize", {"tried": [{"change": "augment", "kept": False, "note": "not tried"}]}),
    ("tune", {"curve": [{"trials": 1, "value": "nan", "best": None}], "importance": "odd"}),
    ("tune", {"trials": 3}),
    ("squeeze", {"table": [{"model": "mystery", "val": {"accuracy": "high"}, "test": None}], "longer_curve": [{}]}),
    ("squeeze", {"table": [{"model": "best"}]}),
]


@pytest.mark.parametrize(("step_id", "details"), ODD_DETAILS)
def test_odd_details_never_raise(step_id: str, details: dict[str, Any]) -> None:
    picture = figures.step_picture(StepResult(step_id, "warn", "odd", details=details), {})  # type: ignore[arg-type]
    assert picture is None or (picture.png is None) != (picture.note is None)


def test_a_figure_that_breaks_becomes_a_note() -> None:
    step_id, details = ODD_DETAILS[2]  # a power law without its coefficients
    picture = figures.step_picture(StepResult(step_id, "pass", "", details=details), {})  # type: ignore[arg-type]
    assert picture is not None and picture.note is not None and "KeyError" in picture.note


# -- what goes into the net, in `nnrecipe check`


def test_the_input_recorder_leaves_the_short_run_bit_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    exp = toy.classification()
    recorded = short_run.train_short(CheckContext(exp, device=torch.device("cpu"), seed=0, budget="quick"))

    class Nothing(Callback):
        def __init__(self, exp: Any) -> None:
            pass

        def record(self) -> None:
            return None

    monkeypatch.setattr(observed_inputs, "InputCapture", Nothing)
    plain = short_run.train_short(CheckContext(exp, device=torch.device("cpu"), seed=0, budget="quick"))
    assert plain.input_batch is None and recorded.input_batch is not None
    assert recorded.history.step_losses == plain.history.step_losses
    for a, b in zip(recorded.model.parameters(), plain.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert recorded.input_batch["x"].shape == (exp.batch_size, *exp.train[0][0].shape)
    assert recorded.input_batch["stats"]["shape"][0] == exp.batch_size
    assert not any(m._forward_pre_hooks for m in recorded.model.modules())


def test_check_shows_the_short_runs_input_batch_as_an_image() -> None:
    torch.set_num_threads(1)
    report = check_report(image_experiment(), ids=["loss-decreases"], device="cpu")
    result = report.result
    assert result.checks[0].status == "pass"
    page = render_html(result, report.pictures)
    assert "Exactly what goes into the net" in page and "the checks&#39; short run" in page
    check_pictures = sum(c.id in figures.CHECK_FIGURES for c in result.checks)
    # and the two pictures of "look at the data": the montage and the extremes of the images
    assert page.count('<img src="data:image/png;base64,') == check_pictures + 1 + 2


def test_cli_check_writes_a_report_with_the_input_batch(tmp_path: Path) -> None:
    from nnrecipe.cli import main

    torch.set_num_threads(1)
    spec = Path(__file__).parents[1] / "spec_files" / "good.py"  # toy.classification
    assert main(["check", str(spec), "--only", "loss-decreases", "--out", str(tmp_path), "--device", "cpu"]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "Exactly what goes into the net" in page
    assert "as the model receives them" in page  # a table batch is shown as its rows
    assert "<th>x[0]</th>" in page
