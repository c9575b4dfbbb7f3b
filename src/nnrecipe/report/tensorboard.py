"""TensorBoard event files for a finished command (`--tensorboard`): scalars, images and histograms.

Written after the command from the same RunResult and Pictures the HTML page is drawn from, so both show the
same numbers. Scalars: the final training's loss and lr per step and validation metrics per epoch, the step-2
short runs' losses, the final scores and every check's top-level numbers. Images: every picture of the
report. Histograms: the captured input batch, and per layer the activations and weights the recorders
sampled. Needs the `tensorboard` package (`pip install 'nnrecipe[tensorboard]'`).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nnrecipe.errors import UsageError
from nnrecipe.results import Pictures, RunResult


def write_tensorboard(result: RunResult, pictures: Pictures, folder: str | Path) -> Path:
    """Write one run of event files into `folder`; return the folder."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # tensorboard is an optional extra
        raise UsageError("--tensorboard needs the tensorboard package: pip install 'nnrecipe[tensorboard]'") from exc
    folder = Path(folder)
    writer = SummaryWriter(log_dir=str(folder))
    try:
        _scalars(writer, result, pictures)
        _histograms(writer, pictures.run)
        _images(writer, result, pictures)
        writer.add_text("checks", _checks_markdown(result))
    finally:
        writer.close()
    return folder


def _scalars(writer: Any, result: RunResult, pictures: Pictures) -> None:
    history = pictures.run.get("final_history")
    if history is not None:
        for step, (loss, lr) in enumerate(zip(history.step_losses, history.step_lrs, strict=False)):
            writer.add_scalar("train/loss", loss, step)
            writer.add_scalar("train/lr", lr, step)
        for record in history.epochs:
            for metric, value in record.val.items():
                writer.add_scalar(f"val/{metric}", value, record.epoch + 1)
    for split, scores in result.scores.items():
        for metric, value in scores.items():
            writer.add_scalar(f"scores/{split}/{metric}", value, 0)
    for check in result.checks:
        losses = pictures.check(check.id).get("step_losses")
        if losses:
            for step, loss in enumerate(losses):
                writer.add_scalar(f"checks/{check.id}/loss", loss, step)
        for key, value in check.evidence.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                writer.add_scalar(f"evidence/{check.id}/{key}", value, 0)


def _histograms(writer: Any, artifacts: Mapping[str, Any]) -> None:
    batch = artifacts.get("input_batch") or {}
    if "x" in batch:
        writer.add_histogram("input/batch", batch["x"].astype("float32"), 0)
    layers = artifacts.get("layer_stats") or {}
    for name, values in (layers.get("activation_values") or {}).items():
        writer.add_histogram(f"activations/{name}", values, 0)
    for name, values in (layers.get("parameter_values") or {}).items():
        writer.add_histogram(f"weights/{name}", values, 0)


def _images(writer: Any, result: RunResult, pictures: Pictures) -> None:
    from nnrecipe.report.figures import RUN_FIGURES, check_picture, run_pictures

    drawn = [(f"checks/{c.id}", check_picture(c, pictures.check(c.id))) for c in result.checks]
    stages = dict.fromkeys(f.stage for f in RUN_FIGURES)
    drawn += [(f"run/{figure.title}", pic) for stage in stages for figure, pic in run_pictures(pictures.run, stage)]
    for tag, picture in drawn:
        if picture is not None and picture.png:
            writer.add_image(tag, _decode_png(picture.png), 0, dataformats="HWC")


def _decode_png(data_uri: str) -> Any:
    import numpy as np
    from PIL import Image

    raw = base64.b64decode(data_uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


def _checks_markdown(result: RunResult) -> str:
    rows = ["| check | status | summary |", "|---|---|---|"]
    rows += [f"| {c.id} | {c.status} | {c.summary.replace('|', '/')} |" for c in result.checks]
    return "\n".join(rows)
