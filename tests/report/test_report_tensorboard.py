"""TensorBoard event files are real: read them back with TensorBoard's own reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnrecipe.errors import UsageError
from nnrecipe.report.writer import write_outputs
from nnrecipe.results import Report

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def test_event_files_hold_the_run_scalars_images_and_histograms(tmp_path: Path, image_run: Report) -> None:
    write_outputs(image_run.result, image_run.pictures, json_path=None, out_dir=str(tmp_path), tensorboard=True)
    acc = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    history = image_run.pictures.run["final_history"]
    assert {"train/loss", "train/lr", "val/loss", "val/accuracy", "scores/val/accuracy"} <= set(tags["scalars"])
    losses = [e.value for e in acc.Scalars("train/loss")]
    assert losses == pytest.approx(history.step_losses, rel=1e-6)
    val = {e.step: e.value for e in acc.Scalars("val/accuracy")}
    assert val == pytest.approx({r.epoch + 1: r.val["accuracy"] for r in history.epochs})
    assert "checks/loss-decreases/loss" in tags["scalars"]
    assert any(t.startswith("run/Exactly what goes into the net") for t in tags["images"])
    assert "input/batch" in tags["histograms"]
    assert any(t.startswith("weights/") for t in tags["histograms"])


def test_tensorboard_needs_a_run_folder(image_run: Report) -> None:
    with pytest.raises(UsageError, match="--out"):
        write_outputs(image_run.result, image_run.pictures, json_path=None, out_dir=None, tensorboard=True)
