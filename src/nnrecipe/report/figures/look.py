"""Pictures of the data itself: a montage of random samples per class and split, and the extremes of each property,
decoded by kind (images in a grid, signals as lines, table rows, token ids as text).

The montage draws each split's images as one picture (a canvas of cells, one `imshow`): a grid of axes costs
tens of milliseconds an axis, a canvas costs one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nnrecipe.report.figures.base import Table, label_names, new_figure
from nnrecipe.report.figures.data import as_array
from nnrecipe.report.figures.inputs import decode

#: a cell of the image montage is at most this many pixels a side (larger images are sampled down)
CELL = 32
#: characters of a decoded text sample shown
TEXT = 160
#: features of a table row shown
FEATURES = 10


def montage(view: Any) -> Any:
    data = _measured(view)
    if not data["montage"]:
        return None
    kind = data["kind"]
    if kind == "image":
        return _image_montage(data)
    if kind == "signal":
        return _signal_montage(data)
    return _rows_montage(data)


def extremes(view: Any) -> Any:
    data = _measured(view)
    found = [p for p in data["extremes"] if p["groups"]]
    if not found:
        return None
    if data["kind"] == "image":
        return _image_extremes(data, found)
    if data["kind"] == "signal":
        return _signal_extremes(data, found)
    return _rows_extremes(data, found)


def _measured(view: Any) -> dict[str, Any]:
    return view.measured() if hasattr(view, "measured") else dict(view)


#: characters of a class name shown in a picture
NAME = 14


def short(text: Any, limit: int = NAME) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def group_label(data: dict[str, Any], group: dict[str, Any]) -> str:
    """A class id as its (shortened) name when the data has names, any other group label as it is."""
    if group.get("class") is None:
        return str(group["label"])
    names = label_names(data.get("class_names"), int(group["class"]) + 1)
    return short(names[int(group["class"])])


# -- images


def image_of(sample: Any) -> np.ndarray | None:
    """(H, W) or (H, W, 3) from an image in any layout: channels first or last, one channel or three."""
    arr = as_array(sample)
    if arr is None:
        return None
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[-1] != 3:
        arr = arr.mean(axis=-1)
    return arr if arr.ndim in (2, 3) else None


def _resized(img: np.ndarray, side: int) -> np.ndarray:
    """Nearest-neighbour onto a side x side cell (a cell larger than the image repeats its pixels)."""
    h, w = img.shape[:2]
    rows = np.minimum((np.arange(side) * h / side).astype(int), h - 1)
    cols = np.minimum((np.arange(side) * w / side).astype(int), w - 1)
    return img[np.ix_(rows, cols)]


def canvas(images: Sequence[Sequence[np.ndarray | None]], *, side: int, lo: float, hi: float) -> np.ndarray:
    """Rows of images on one white RGB canvas, each in a side x side cell, values mapped from [lo, hi]."""
    cols = max((len(r) for r in images), default=1) or 1
    pad = max(1, side // 8)
    out = np.ones((len(images) * (side + pad) + pad, cols * (side + pad) + pad, 3))
    for r, row in enumerate(images):
        for c, img in enumerate(row):
            if img is None:
                continue
            cell = np.clip((_resized(img, side) - lo) / max(hi - lo, 1e-12), 0, 1)
            cell = np.repeat(cell[..., None], 3, axis=-1) if cell.ndim == 2 else cell
            top, left = pad + r * (side + pad), pad + c * (side + pad)
            out[top:top + side, left:left + side] = cell
    return out


def _span(images: list[np.ndarray]) -> tuple[float, float]:
    finite = [im[np.isfinite(im)] for im in images if im is not None and np.isfinite(im).any()]
    if not finite:
        return 0.0, 1.0
    values = np.concatenate([f.ravel() for f in finite])
    return float(values.min()), float(values.max())


def _side(images: list[np.ndarray]) -> int:
    return int(min(CELL, max((max(im.shape[:2]) for im in images), default=8)))


def _image_montage(data: dict[str, Any]) -> Any:
    splits = data["montage"]
    drawn = []
    for split in splits:
        grid = [[image_of(item["input"]) for item in g["items"]] for g in split["groups"]]
        flat = [im for row in grid for im in row if im is not None]
        lo, hi = _span(flat)
        side = _side(flat)
        drawn.append((split, grid, canvas(grid, side=side, lo=lo, hi=hi), side, lo, hi))
    # the canvases keep their aspect: the figure is as tall as the widest split's canvas needs
    axis_width = 8.0 / len(splits)
    tallest = max(c.shape[0] / c.shape[1] for _, _, c, *_ in drawn)
    fig = new_figure(height=min(axis_width * tallest + 1.0, 12.0), grid=True)
    fig.subplots_adjust(left=0.1, right=0.99, bottom=0.02, top=1 - 0.85 / fig.get_figheight(), wspace=0.06)
    axes = np.atleast_1d(fig.subplots(1, len(splits)))
    for ax, (split, grid, picture, side, lo, hi) in zip(axes, drawn, strict=True):
        ax.imshow(picture, interpolation="nearest")
        pad = max(1, side // 8)
        ax.set_yticks([pad + r * (side + pad) + side / 2 for r in range(len(grid))],
                      [group_label(data, g) for g in split["groups"]], fontsize=7)
        ax.set_xticks([])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(f"{split['split']} ({split['size']} samples)\ngray spans {lo:.3g} to {hi:.3g}", fontsize=8)
        if ax is not axes[0]:
            ax.tick_params(labelleft=False)
    fig.suptitle("random samples: a row per class" if data["task"] == "classification" else "random samples",
                 fontsize=9)
    return fig


def _image_extremes(data: dict[str, Any], found: list[dict[str, Any]]) -> Any:
    fig = new_figure(height=1.25 * len(found) + 0.4, grid=True)
    fig.subplots_adjust(left=0.03, right=0.99, bottom=0.1, top=0.9, hspace=1.1)
    axes = np.atleast_1d(fig.subplots(len(found), 1))
    for ax, prop in zip(axes, found, strict=True):
        row = [image_of(g[end]["input"]) for g in prop["groups"] for end in ("low", "high")]
        flat = [im for im in row if im is not None]
        lo, hi = _span(flat)
        side = _side(flat)
        ax.imshow(canvas([row], side=side, lo=lo, hi=hi), interpolation="nearest")
        pad = max(1, side // 8)
        ax.set_xticks([pad + i * (side + pad) + side / 2 for i in range(len(row))],
                      [f"{group_label(data, g)}\n{end} {g[end]['value']:.3g}" for g in prop["groups"]
                       for end in ("low", "high")], fontsize=6)
        ax.set_yticks([])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(f"{prop['property']}: the lowest and the highest sample of each "
                     f"{'class' if data['task'] == 'classification' else 'split'}", fontsize=8, loc="left")
    return fig


# -- signals


def _lines(sample: Any) -> np.ndarray | None:
    """(channels, length) of a signal, or None."""
    arr = as_array(sample)
    return None if arr is None else arr.reshape(-1, arr.shape[-1])


def _amplitude(samples: list[Any]) -> float:
    """A common scale for stacked signals: the 99th percentile of |x| over all of them (one outlier does not
    flatten the rest)."""
    values = [np.abs(lines[np.isfinite(lines)]) for s in samples if (lines := _lines(s)) is not None]
    flat = np.concatenate([v.ravel() for v in values]) if values else np.zeros(1)
    return float(np.percentile(flat, 99)) or 1.0 if flat.size else 1.0


def _signal_montage(data: dict[str, Any]) -> Any:
    """One axis per split, the classes stacked top to bottom, each class's random samples overlaid in its row:
    three axes however many classes (a grid of axes costs tens of milliseconds each)."""
    splits = data["montage"]
    rows = max(len(s["groups"]) for s in splits)
    height = min(0.5 * rows + 1.0, 9.0)
    fig = new_figure(height=height, grid=True)
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.3 / height, top=1 - 0.7 / height, wspace=0.05)
    axes = np.atleast_1d(fig.subplots(1, len(splits), sharey=True))
    scale = 1.6 * _amplitude([i["input"] for s in splits for g in s["groups"] for i in g["items"]])
    for ax, split in zip(axes, splits, strict=True):
        for r, group in enumerate(split["groups"]):
            for item in group["items"]:
                lines = _lines(item["input"])
                for line in lines if lines is not None else ():
                    ax.plot(line / scale - r, lw=0.7, color="#0969da", alpha=0.6)
        ax.set_yticks([-r for r in range(len(split["groups"]))],
                      [group_label(data, g) for g in split["groups"]], fontsize=7)
        ax.set_title(f"{split['split']} ({split['size']} samples)", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.grid(False)
    fig.suptitle("random samples, overlaid: a row per class" if data["task"] == "classification"
                 else "random samples, overlaid", fontsize=9)
    return fig


def _signal_extremes(data: dict[str, Any], found: list[dict[str, Any]]) -> Any:
    """One axis per property: the classes side by side, each with its lowest (blue) and highest (red) sample."""
    height = 1.3 * len(found) + 0.8
    fig = new_figure(height=height, grid=True)
    fig.subplots_adjust(left=0.03, right=0.99, bottom=0.45 / height, top=1 - 0.55 / height, hspace=0.9)
    axes = np.atleast_1d(fig.subplots(len(found), 1))
    for ax, prop in zip(axes, found, strict=True):
        scale = 2.2 * _amplitude([g[end]["input"] for g in prop["groups"] for end in ("low", "high")])
        length = max((ls.shape[-1] for g in prop["groups"] for e in ("low", "high")
                      if (ls := _lines(g[e]["input"])) is not None), default=1)
        gap = max(2, length // 6)
        centres, labels = [], []
        for c, group in enumerate(prop["groups"]):
            start = c * (length + gap)
            for end, color in (("low", "#0969da"), ("high", "#cf222e")):
                lines = _lines(group[end]["input"])
                if lines is not None:
                    ax.plot(start + np.arange(lines.shape[-1]), lines[0] / scale, lw=0.9, color=color)
            centres.append(start + length / 2)
            labels.append(f"{group_label(data, group)}\n{group['low']['value']:.3g} / {group['high']['value']:.3g}")
        ax.set_xticks(centres, labels, fontsize=6)
        ax.set_yticks([])
        ax.grid(False)
        ax.set_title(f"{prop['property']}: the lowest (blue) and the highest (red) sample of each "
                     f"{'class' if data['task'] == 'classification' else 'split'}", fontsize=8, loc="left")
    return fig


# -- rows of a table, token ids as text


def describe_input(sample: Any, *, kind: str, vocab: Any) -> str:
    """A sample as one line of text: token ids decoded, or a row's first features."""
    if kind == "text":
        ids = as_array(sample)
        if ids is None:
            return "(not available)"
        text = decode(ids.astype(np.int64).ravel(), vocab).replace("\n", "⏎")
        return text if len(text) <= TEXT else text[:TEXT] + "…"
    arr = as_array(sample)
    if arr is None:
        return "(not available)"
    values = arr.ravel()
    shown = ", ".join(f"{v:.3g}" for v in values[:FEATURES])
    return shown + (f", … ({values.size} values)" if values.size > FEATURES else "")


def _target_text(data: dict[str, Any], target: Any) -> str:
    arr = np.asarray(target)
    if data["task"] == "classification" and arr.size:
        return group_label(data, {"label": "", "class": int(arr.reshape(-1)[0])})
    if data["task"] == "sequence":
        return describe_input(arr, kind="text", vocab=data.get("vocab"))[:40]
    return ", ".join(f"{float(v):.3g}" for v in arr.reshape(-1)[:4])


def _rows_montage(data: dict[str, Any]) -> Table:
    classes = data["task"] == "classification"  # the group is the target's class: no column of its own
    rows = []
    for split in data["montage"]:
        for group in split["groups"]:
            for item in group["items"]:
                rows.append([split["split"], group_label(data, group), item["index"],
                             describe_input(item["input"], kind=data["kind"], vocab=data.get("vocab")),
                             *([] if classes else [_target_text(data, item["target"])])])
    what = "decoded with the experiment's vocabulary" if data["kind"] == "text" and data.get("vocab") else (
        "token ids" if data["kind"] == "text" else "the first features")
    return Table(["split", "class" if classes else "group", "#", "input", *([] if classes else ["target"])], rows,
                 caption=f"random samples of every split ({what}), a few per group")


def _rows_extremes(data: dict[str, Any], found: list[dict[str, Any]]) -> Table:
    rows = []
    for prop in found:
        for group in prop["groups"]:
            for end in ("low", "high"):
                sample = group[end]
                rows.append([prop["property"], group_label(data, group), end, f"{sample['value']:.4g}",
                             f"{sample.get('split', '?')}[{sample.get('index', '?')}]",
                             describe_input(sample["input"], kind=data["kind"], vocab=data.get("vocab"))])
    return Table(["property", "group", "end", "value", "sample", "input"], rows,
                 caption="the lowest and the highest sample of each property, per class")
