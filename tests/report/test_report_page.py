"""The HTML page: escaped, self-contained, every section and picture there, robust to odd picture material."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import toy
from conftest import XSS, run_like, trained_artifacts
from nnrecipe.report import figures
from nnrecipe.report.html import render_html
from nnrecipe.report.writer import write_outputs
from nnrecipe.results import CheckResult, Pictures, Report, RunResult, StepResult

RESOURCE = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?!data:|#)[a-z]+:|url\(\s*["']?(?!data:)[a-z]+:""", re.I)


def test_user_strings_are_escaped(image_run: Report) -> None:
    page = render_html(image_run.result, image_run.pictures)
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()  # the page itself runs no script at all


def test_page_is_self_contained(image_run: Report) -> None:
    page = render_html(image_run.result, image_run.pictures)
    assert not RESOURCE.findall(page)
    assert "http://" not in page and "https://" not in page


def test_every_check_step_and_training_picture_is_on_the_page(image_run: Report) -> None:
    page = render_html(image_run.result, image_run.pictures)
    result = image_run.result
    for c in result.checks:
        assert c.id in page
    assert "step: overfit" in page
    for title in ("Exactly what goes into the net", "Prediction dynamics", "Loss curves and learning rate",
                  "First-layer weights", "Activations and gradients per layer"):
        assert title in page
    drawn_checks = sum(c.id in figures.CHECK_FIGURES and c.status not in ("skip", "error") for c in result.checks)
    drawn_steps = sum(s.step in figures.STEP_FIGURES for s in result.steps)
    assert page.count('<img src="data:image/png;base64,') == drawn_checks + drawn_steps + 5
    assert "this picture could not be drawn" not in page


def test_step_details_that_are_records_become_a_table(image_run: Report) -> None:
    page = render_html(image_run.result, image_run.pictures)
    assert '<table class="records">' in page
    assert "<th>val_loss</th>" in page


def test_a_check_without_a_figure_shows_its_numbers() -> None:
    result = RunResult("x", checks=(CheckResult("made-up", "data", "warn", "odd numbers", evidence={"ratio": 0.123456},
                                                fix="look closer"),))
    page = render_html(result)
    assert "made-up" in page and "0.1235" in page and "look closer" in page
    assert "<img" not in page


def test_a_figure_that_fails_becomes_a_note_not_an_exception() -> None:
    broken = CheckResult("overfit-one-batch", "skeleton", "pass", "ok", evidence={"task": "classification"})
    material = {"labels": "not a list", "predictions_end": object(), "loss_curve": [1, "x"]}
    page = render_html(RunResult("x", checks=(broken,)), Pictures(checks={"overfit-one-batch": material}))
    assert "this picture could not be drawn" in page


def test_odd_run_material_never_breaks_the_page() -> None:
    material = {"input_batch": {"note": "the model's first argument is a dict"},
                "prediction_dynamics": {"task": "classification", "epochs": [], "outputs": [], "targets": []},
                "layer_stats": {"records": [], "first_layer": None}, "final_history": object()}
    page = render_html(RunResult("x", command="run",
                                 steps=(StepResult("tune", "warn", "a later step", details={"trials": 3}),)),
                       Pictures(run=material))
    assert "step: tune" in page and "trials" in page


def test_generating_the_report_leaves_the_global_random_state_alone(image_run: Report) -> None:
    before = torch.random.get_rng_state()
    render_html(image_run.result, image_run.pictures)
    assert torch.equal(before, torch.random.get_rng_state())


def test_write_outputs_writes_the_report_and_returns_its_path(tmp_path: Path, classification_check: Report) -> None:
    result, pictures = classification_check.result, classification_check.pictures
    path = write_outputs(result, pictures, json_path=None, out_dir=str(tmp_path / "run"))
    assert path == str(tmp_path / "run" / "report.html")
    assert Path(path).read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "run" / "result.json").exists()
    assert write_outputs(result, pictures, json_path=None, out_dir=None) is None


def test_jupyter_shows_the_same_page(classification_check: Report) -> None:
    result, pictures = classification_check.result, classification_check.pictures
    assert classification_check._repr_html_() == render_html(result, pictures)
    assert result._repr_html_() == render_html(result, Pictures())  # a result alone: the page, no pictures


@pytest.mark.parametrize("make", [toy.regression, toy.sequence])
def test_regression_and_sequence_runs_render(make) -> None:
    exp = make(**({"kind": "text", "vocab": "abcdefghijkl"} if make is toy.sequence else {}))
    report = run_like(exp)
    page = render_html(report.result, report.pictures)
    assert "this picture could not be drawn" not in page
    assert "Prediction dynamics" in page
    if make is toy.sequence:
        assert "input, decoded" in page  # token ids shown as text through the vocabulary


def test_trained_artifacts_hold_every_recording() -> None:
    artifacts = trained_artifacts(toy.classification())
    assert {"input_batch", "prediction_dynamics", "layer_stats", "final_history"} <= set(artifacts)


def test_data_check_pictures_draw_their_samples() -> None:
    img = np.arange(64, dtype=float).reshape(8, 8)
    sample = {"split": "train", "index": 3}
    checks = (CheckResult("duplicates", "data", "warn", "1 pair"), CheckResult("label-issues", "data", "warn", "1 label"),
              CheckResult("outliers", "data", "pass", "none"), CheckResult("class-balance", "data", "pass", "ok"))
    material = {
        "duplicates": {"pairs": [
            {"a": sample, "b": sample, "a_input": img, "b_input": None, "a_target": 1, "b_target": 1}]},
        "label-issues": {"candidates": [
            {"sample": sample, "given": 1, "predicted": 2, "confidence": 0.01, "input": np.ones(40)}]},
        "outliers": {
            "histograms": {"brightness": np.histogram(np.arange(100.0), bins=10), "height": (np.array([5.0]), np.array([0.0, 1.0]))},
            "extremes": {"brightness": {"low": [{"value": 0.0, "z": -3.0, "input": img}], "high": [{"value": 99.0, "z": 3.0, "input": "text"}]}}},
        "class-balance": {"counts": {"train": np.array([5, 7]), "val": np.array([2, 3])}, "class_names": [XSS, "b"]},
    }
    page = render_html(RunResult("x", checks=checks), Pictures(checks=material))
    assert page.count("<img") == 4
    assert "could not be drawn" not in page


def test_cli_check_writes_the_report_and_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nnrecipe.cli import main

    spec = Path(__file__).parents[1] / "spec_files" / "good.py"
    code = main(["check", str(spec), "--only", "init-loss", "--out", str(tmp_path / "r"), "--device", "cpu"])
    assert code == 0
    assert (tmp_path / "r" / "report.html").exists()
    assert "report.html" in capsys.readouterr().out


def test_cli_tensorboard_without_a_folder_is_a_usage_error() -> None:
    from nnrecipe.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["check", "digits", "--tensorboard"])
    assert exit_info.value.code == 2
