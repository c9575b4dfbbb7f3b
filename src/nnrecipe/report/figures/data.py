"""Pictures of the step-1 data checks: class counts, the flagged samples themselves (duplicate and leaked
pairs, conflicting labels, likely wrong labels, constant samples, outliers) and property histograms.

Samples come as whatever the data source gives (arrays, tensors, PIL images, strings, None where the source
cannot seek); `thumbnail` draws each by its shape, so one drawer serves images, signals and rows alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nnrecipe.report.figures.base import Table, label_names, new_figure
from nnrecipe.results import CheckResult

#: properties drawn by the outliers picture, and samples shown at each end of each
SHOWN_PROPERTIES = 4
SHOWN_EXTREMES = 2


def as_array(sample: Any) -> np.ndarray | None:
    if sample is None or isinstance(sample, (str, bytes)):
        return None
    if hasattr(sample, "detach"):
        sample = sample.detach().cpu().numpy()
    try:
        arr = np.asarray(sample, dtype=float)
    except (TypeError, ValueError):
        return None
    return arr if arr.size else None


def thumbnail(ax: Any, sample: Any, title: str) -> None:
    """One sample on one axis: an image (H, W[, C]) or (C, H, W), a line for a 1-D signal, else its text."""
    ax.set_title(title, fontsize=7, pad=2)
    arr = as_array(sample)
    if arr is not None and arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.moveaxis(arr, 0, -1)
    if arr is not None and arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr is not None and (arr.ndim == 2 and min(arr.shape) >= 4 or arr.ndim == 3 and arr.shape[-1] == 3):
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        shown = (arr - lo) / max(hi - lo, 1e-12)
        ax.imshow(shown, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.axis("off")
    elif arr is not None and arr.ndim == 1 and arr.size >= 8:
        ax.plot(arr, lw=1)
        ax.set_xticks([])
        ax.tick_params(labelsize=6)
    else:
        text = "(not available)" if sample is None else _short(sample)
        ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=7, wrap=True, transform=ax.transAxes)
        ax.axis("off")


def _short(sample: Any, limit: int = 60) -> str:
    arr = as_array(sample)
    text = np.array2string(arr.ravel()[:8], precision=3) if arr is not None else str(sample)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _grid(samples: Sequence[tuple[Any, str]], *, cols: int, cell: float = 1.25) -> Any:
    rows = -(-len(samples) // cols)
    fig = new_figure(height=cell * rows + 0.5, width=min(9.0, 1.3 * cols * cell / 1.25 + 0.4), grid=True)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, (sample, title) in zip(axes, samples, strict=False):
        ax.axis("on")
        thumbnail(ax, sample, title)
    return fig


def _where(sample: Mapping[str, Any]) -> str:
    return f"{sample.get('split', '?')}[{sample.get('index', '?')}]"


def pairs(check: CheckResult, material: Mapping[str, Any]) -> Any:
    """Flagged pairs side by side (duplicates, near duplicates, leakage across splits, label conflicts)."""
    found = list(material.get("pairs") or [])
    if not found:
        return None
    samples: list[tuple[Any, str]] = []
    for p in found:
        samples.append((p.get("a_input"), f"{_where(p.get('a', {}))} · y={p.get('a_target')}"))
        samples.append((p.get("b_input"), f"{_where(p.get('b', {}))} · y={p.get('b_target')}"))
    return _grid(samples, cols=4)  # two pairs a row, each pair side by side


def class_balance(check: CheckResult, material: Mapping[str, Any]) -> Any:
    counts = material.get("counts") or {}
    if not counts:
        return None
    splits = list(counts)
    width = max(len(np.asarray(counts[s])) for s in splits)
    names = label_names(material.get("class_names"), width)
    fig = new_figure(height=2.8)
    ax = fig.subplots()
    ids = np.arange(width)
    bar = 0.8 / len(splits)
    for k, split in enumerate(splits):
        c = np.asarray(counts[split], float)
        share = c / max(c.sum(), 1)
        ax.bar(ids[: len(c)] + (k - (len(splits) - 1) / 2) * bar, share, width=bar, label=f"{split} ({int(c.sum())})")
    ax.set(ylabel="share of the split", title="class distribution per split")
    if width <= 40:
        ax.set_xticks(ids, names, rotation=45 if width > 12 else 0, ha="right" if width > 12 else "center")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=len(splits))  # above the bars, not on them
    return fig


def label_issues(check: CheckResult, material: Mapping[str, Any]) -> Any:
    found = list(material.get("candidates") or [])
    if not found:
        return None
    samples = [(c.get("input"), f"{_where(c.get('sample', {}))}\ngiven {c.get('given')}, model {c.get('predicted')}")
               for c in found]
    return _grid(samples, cols=6, cell=1.3)


def corrupt(check: CheckResult, material: Mapping[str, Any]) -> Any:
    found = list(material.get("constant") or [])
    if not found:
        return None
    return _grid([(c.get("input"), f"constant {_where(c.get('sample', {}))}") for c in found], cols=4)


def outliers(check: CheckResult, material: Mapping[str, Any]) -> Any:
    """Each property's histogram over all samples, and the samples at both ends."""
    histograms: Mapping[str, Any] = material.get("histograms") or {}
    extremes: Mapping[str, Any] = material.get("extremes") or {}
    # Properties that vary: a histogram with one filled bin (every image 8 pixels high) shows nothing.
    names = [n for n in histograms if np.count_nonzero(np.asarray(histograms[n][0])) > 1]
    if not names:
        return None
    shown = names[:SHOWN_PROPERTIES]
    fig = new_figure(height=1.6 * len(shown) + 0.3, grid=True)
    fig.subplots_adjust(left=0.07, bottom=0.08, top=0.9, hspace=0.7, wspace=0.25)
    cols = 1 + 2 * SHOWN_EXTREMES
    grid = fig.add_gridspec(len(shown), cols, width_ratios=[3] + [1] * (cols - 1))
    for r, name in enumerate(shown):
        ax = fig.add_subplot(grid[r, 0])
        counts, edges = (np.asarray(a, float) for a in histograms[name])
        ax.stairs(counts, edges, fill=True, color="#0969da", alpha=0.6)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
        ends = extremes.get(name, {})
        shown_ends = list(ends.get("low", []))[:SHOWN_EXTREMES] + list(ends.get("high", []))[:SHOWN_EXTREMES]
        for c, e in enumerate(shown_ends, start=1):
            label = f"{float(e.get('value', np.nan)):.3g} (z {float(e.get('z', np.nan)):+.1f})"
            thumbnail(fig.add_subplot(grid[r, c]), e.get("input"), label)
    return fig


def input_stats(check: CheckResult, material: Mapping[str, Any]) -> Any:
    mean, std = as_array(material.get("mean")), as_array(material.get("std"))
    if mean is None or std is None:
        return None
    mean, std = mean.ravel(), std.ravel()
    if mean.size < 3:  # one or two channels: the numbers say it all
        return None
    fig = new_figure(height=2.6)
    ax = fig.subplots()
    idx = np.arange(len(mean))
    ax.plot(idx, mean, color="#0969da", label="mean", lw=1.2)
    ax.fill_between(idx, mean - std, mean + std, color="#0969da", alpha=0.2, label="mean ± std")
    low, high = as_array(material.get("low")), as_array(material.get("high"))
    if low is not None and high is not None and low.size == mean.size:
        ax.plot(idx, low.ravel(), color="#6e7781", lw=0.8, ls=":", label="low / high")
        ax.plot(idx, high.ravel(), color="#6e7781", lw=0.8, ls=":")
    ax.axhline(0, color="#1f2328", lw=0.6)
    ax.set(xlabel="channel" if material.get("per_channel") else "feature", ylabel="value (training split)",
           title="per-feature statistics of the training inputs")
    ax.legend()
    return fig


def fractions_table(check: CheckResult, material: Mapping[str, Any]) -> Table | None:
    fractions = material.get("fractions") or {}
    if not fractions:
        return None
    return Table(["relation", "share of positions"], [[k, f"{float(v):.1%}"] for k, v in fractions.items()])
