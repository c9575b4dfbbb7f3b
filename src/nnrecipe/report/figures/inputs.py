"""Exactly what goes into the net: the captured input batch decoded back by its kind of data.

The kind comes from the experiment (`Experiment.kind`: image, signal, table, text); when it is not given it is
guessed from the tensor's shape and dtype. Images are shown on the batch's own value range (not each
image stretched to its own), so a wrongly scaled or clipped input looks wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nnrecipe.engine.tokens import decode
from nnrecipe.report.figures.base import Table, label_names, new_figure

#: samples drawn in the picture
SHOWN = {"image": 32, "signal": 16, "table": 12, "text": 12}


def guess_kind(x: np.ndarray) -> str:
    if x.dtype.kind in "iu" and x.ndim == 2:
        return "text"
    if x.ndim == 4 or (x.ndim == 3 and min(x.shape[1:]) >= 8):
        return "image"
    if x.ndim >= 2 and x.shape[-1] >= 16:
        return "signal"
    return "table"


def input_batch(art: Mapping[str, Any]) -> Any:
    if "x" not in art:
        return None
    x = np.asarray(art["x"])
    kind = art.get("kind") or guess_kind(x)
    labels = _label_texts(art, len(x))
    if kind == "image":
        return _image_grid(x, labels)
    if kind == "signal":
        return _signals(x, labels)
    if kind == "text":
        y = art.get("y")
        if y is not None and np.asarray(y).ndim == 2:  # next-token targets: decode them too
            labels = [decode(t, art.get("vocab")) for t in np.asarray(y)]
        return _text(x, art.get("vocab"), labels)
    return _table(x, labels)


def _label_texts(art: Mapping[str, Any], n: int) -> list[str] | None:
    y = art.get("y")
    if y is None:
        return None
    y = np.asarray(y)
    if art.get("task") == "classification" and y.ndim == 1 and y.dtype.kind in "iu":
        names = label_names(art.get("class_names"), int(y.max()) + 1 if len(y) else 0)
        return [names[int(v)] for v in y[:n]]
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        return [f"{float(v):.3g}" for v in y.reshape(len(y), -1)[:n, 0]]
    return None


def _as_images(x: np.ndarray) -> np.ndarray:
    """(B, H, W) or (B, H, W, 3): channels-first tensors are moved last; other channel counts are averaged."""
    if x.ndim == 3:
        return x
    if x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = np.moveaxis(x, 1, -1)  # (B, C, H, W) -> (B, H, W, C)
    if x.shape[-1] == 1:
        return x[..., 0]
    return x if x.shape[-1] == 3 else x.mean(axis=1)


def _image_grid(x: np.ndarray, labels: list[str] | None) -> Any:
    images = _as_images(x)[: SHOWN["image"]]
    lo, hi = float(np.nanmin(images)), float(np.nanmax(images))
    cols = min(8, len(images))
    rows = -(-len(images) // cols)
    fig = new_figure(height=1.15 * rows + 0.4, width=min(9.0, 1.1 * cols + 0.4), grid=True)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= len(images):
            continue
        img = images[i]
        if img.ndim == 3:  # RGB: shown on the batch's range, mapped into [0, 1]
            ax.imshow(np.clip((img - lo) / max(hi - lo, 1e-12), 0, 1), interpolation="nearest")
        else:
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        if labels is not None:
            ax.set_title(labels[i], fontsize=8, pad=2)
    fig.suptitle(f"gray scale spans the batch's range: {lo:.3g} (black) to {hi:.3g} (white)", fontsize=8)
    return fig


def _signals(x: np.ndarray, labels: list[str] | None) -> Any:
    x = x[: SHOWN["signal"]]
    cols = 4
    rows = -(-len(x) // cols)
    fig = new_figure(height=1.3 * rows + 0.3, grid=True)
    fig.subplots_adjust(left=0.05, bottom=0.08, top=0.93, hspace=0.5)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True)).ravel()
    for i, ax in enumerate(axes):
        if i >= len(x):
            ax.axis("off")
            continue
        signal = x[i].reshape(-1, x.shape[-1]) if x.ndim > 1 else x[i][None]  # (channels, length)
        for channel in signal:
            ax.plot(channel, lw=1.2)
        ax.set_title(f"label {labels[i]}" if labels is not None else f"#{i}", fontsize=8, pad=2)
    return fig


def _table(x: np.ndarray, labels: list[str] | None) -> Table:
    rows_x = x.reshape(len(x), -1)[: SHOWN["table"]]
    width = min(rows_x.shape[1], 16)
    columns = ["#", *(f"x[{j}]" for j in range(width))] + (["…"] if rows_x.shape[1] > width else [])
    columns += ["target"] if labels is not None else []
    rows = []
    for i, row in enumerate(rows_x):
        cells: list[Any] = [i, *(f"{float(v):.4g}" for v in row[:width])]
        cells += ["…"] if rows_x.shape[1] > width else []
        cells += [labels[i]] if labels is not None else []
        rows.append(cells)
    return Table(columns, rows, caption=f"the first {len(rows)} rows of the batch, as the model receives them")


def _text(x: np.ndarray, vocab: Any, labels: list[str] | None) -> Table:
    rows = [[i, decode(ids, vocab)] + ([labels[i]] if labels is not None else []) for i, ids in
            enumerate(x[: SHOWN["text"]].reshape(min(len(x), SHOWN["text"]), -1))]
    columns = ["#", "input, decoded" if vocab is not None else "input token ids"] + (["target"] if labels else [])
    return Table(columns, rows, caption="token ids as the model receives them, decoded with the experiment's vocabulary"
                 if vocab is not None else "token ids as the model receives them (no vocabulary given)")
