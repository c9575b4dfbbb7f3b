"""The "look at the data" and "error analysis" sections: their numbers, and a page that has them for every kind."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sections import CPU, EXPERIMENTS, sections_run

import toy
from nnrecipe.audit.look import DataView
from nnrecipe.checks.context import CheckContext
from nnrecipe.report.html import render_html
from nnrecipe.runner import check_report
from nnrecipe.steps.error_analysis import analyse, classification_numbers, regression_numbers

#: the titles each kind's error analysis shows
ERROR_TITLES = {
    "classification": ("Confusion matrix and per-class scores", "The most confident mistakes"),
    "regression": ("Residuals against the target", "The worst residuals"),
    "sequence": ("Loss per position", "Tokens with the highest loss", "The worst predictions, in context"),
}


def test_classification_numbers_count_the_confusions_and_rank_the_confident_mistakes() -> None:
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 1, 0, 1, 1, 1])
    conf = np.array([0.9, 0.8, 0.7, 0.9, 0.6, 0.95])
    out = classification_numbers(np.arange(6) + 100, y, pred, conf, conf / 2, classes=3, names=["a", "b", "c"])
    assert out["confusion"] == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]  # rows: target, columns: predicted
    b = out["per_class"][1]
    assert (b["precision"], b["recall"], b["support"]) == (pytest.approx(0.5), 1.0, 2)
    assert math.isnan(out["per_class"][2]["precision"])  # nothing was predicted as c
    assert [m["index"] for m in out["confident_mistakes"]] == [105, 101]  # the surest mistake first
    assert out["confident_mistakes"][0] == {"index": 105, "target": "c", "predicted": "b", "confidence": 0.95,
                                            "target_probability": 0.475}
    assert out["top_confusions"][0]["count"] == 1 and out["accuracy"] == pytest.approx(4 / 6)


def test_regression_numbers_find_a_model_that_pulls_toward_the_mean() -> None:
    target = np.linspace(-2, 2, 41)
    prediction = 0.5 * target + 0.1  # shrunk toward the mean, and shifted
    out = regression_numbers(np.arange(41), target, prediction)
    assert out["residual_vs_target_slope"] == pytest.approx(-0.5)
    assert out["bias"] == pytest.approx(0.1)
    assert out["worst"][0]["index"] == 0 and out["worst"][0]["residual"] == pytest.approx(1.1)


def test_sequence_analysis_gives_the_loss_at_every_position_and_the_hardest_tokens() -> None:
    exp = toy.sequence(vocab=list("abcdefghijklmnopqrstuvwx"))
    torch.manual_seed(0)
    numbers, artifact = analyse(exp.model(), exp, device=CPU)
    assert numbers["positions"] == 16 and len(numbers["loss_per_position"]) == 16
    assert numbers["tokens_scored"] == 64 * 16
    assert numbers["loss"] == pytest.approx(float(np.mean(numbers["loss_per_position"])), rel=1e-6)
    assert all(len(t["text"]) == 1 for t in numbers["hardest_tokens"])  # decoded with the vocabulary
    assert set(artifact["inputs"]) == {w["index"] for w in numbers["worst"]}


def test_the_model_is_left_in_the_mode_it_was_found_in() -> None:
    exp = toy.classification()
    model = exp.model().train()
    analyse(model, exp, device=CPU)
    assert model.training


@pytest.mark.parametrize("kind", sorted(EXPERIMENTS))
def test_both_sections_are_on_the_page_with_their_pictures(kind: str) -> None:
    report = sections_run(kind)
    result = report.result
    page = render_html(result, report.pictures)
    assert 'id="look-at-data"' in page and 'id="error-analysis"' in page
    assert page.index('id="look-at-data"') < page.index('id="error-analysis"')
    for title in ("Random samples of every class and split", "The extremes of each property",
                  *ERROR_TITLES[report.pictures.run["error_analysis"]["task"]]):
        assert title in page
    assert "could not be drawn" not in page
    if kind in ("image", "signal"):
        start = page.index('id="look-at-data"')
        look = page[start:page.index('<h2 id="', start)]
        assert look.count("<img") == 2  # the montage and the extremes are pictures
    # the numbers of the error analysis are in the JSON document under the last step, not in its step card
    assert "error_analysis" in result.to_dict()["steps"][-1]["details"]
    assert "error_analysis.per_class" not in page


def test_the_montage_has_samples_of_every_class_and_split() -> None:
    exp = toy.classification(test=toy.blobs(64, seed=3))
    measured = DataView(CheckContext(exp, device=CPU)).measured()
    assert [m["split"] for m in measured["montage"]] == ["train", "val", "test"]
    for split in measured["montage"]:
        assert [g["class"] for g in split["groups"]] == [0, 1, 2, 3]
        assert all(len(g["items"]) == 3 for g in split["groups"])
    norm = next(p for p in measured["extremes"] if p["property"] == "norm")
    for group in norm["groups"]:
        assert group["low"]["value"] <= group["high"]["value"] and group["low"]["input"] is not None


def test_check_and_audit_show_the_data_too(tmp_path: Path) -> None:
    report = check_report(toy.classification(), ids=["class-balance"], device="cpu")
    assert 'id="look-at-data"' in render_html(report.result, report.pictures)
    gen = np.random.default_rng(0)
    np.savez(tmp_path / "arrays.npz", x=gen.normal(size=(200, 6)).astype(np.float32), y=gen.integers(0, 3, 200))
    out = tmp_path / "audit"
    proc = subprocess.run([sys.executable, "-m", "nnrecipe", "audit", str(tmp_path / "arrays.npz"), "--out", str(out),
                           "--only", "class-balance"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    page = (out / "report.html").read_text()
    assert 'id="look-at-data"' in page and "Random samples of every class and split" in page
