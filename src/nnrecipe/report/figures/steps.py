"""Pictures of recipe steps 3-6, drawn from each step's material in `Pictures.steps` (the same rows as its
details): the ablation ladder, the learning curve and the regularizers tried, the tuning history and parameter
importance, and what squeezing gained (ensemble, distillation, training longer).

Each function reads its material with `_material`, which falls back to the step's details: a result read
back from JSON has no pictures but the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nnrecipe.report.figures.base import STATUS_COLORS, log_scale_if_positive, new_figure
from nnrecipe.results import StepResult

GOOD, BAD, PLAIN, MUTED, ACCENT = STATUS_COLORS["pass"], STATUS_COLORS["fail"], "#0969da", "#8c959f", "#8250df"


def _material(step: StepResult, material: Mapping[str, Any], key: str) -> Any:
    value = material.get(key)
    return value if value is not None else step.details.get(key)


def _val_metric(row: Mapping[str, Any]) -> str:
    """The `val_<metric>` a row was chosen by: the one that is not the loss, else the loss."""
    keys = [k for k in row if k.startswith("val_") and k != "val_loss" and isinstance(row[k], (int, float))]
    return keys[0] if keys else "val_loss"


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _zoom(ax: Any, values: Sequence[float], *, axis: str = "y") -> None:
    """Limits around the values (close validation scores must look different), from zero for losses."""
    v = np.asarray([x for x in values if math.isfinite(x)], float)
    if not len(v):
        return
    lo, hi = float(v.min()), float(v.max())
    pad = max((hi - lo) * 0.4, abs(hi) * 0.01, 1e-3)
    limits = (lo - pad, hi + pad)
    (ax.set_ylim if axis == "y" else ax.set_xlim)(*limits)


# -- step 3: overfit


def overfit(step: StepResult, material: Mapping[str, Any]) -> Any:
    """Training loss and validation score per rung of the ablation ladder; fit and flagged rungs marked."""
    rows = [r for r in _material(step, material, "ladder") or [] if isinstance(r, Mapping)]
    if not rows:
        return None
    metric = _val_metric(rows[0])
    ticks = [f"{r.get('rung', i)}: {r.get('change', '')}\n{r.get('model', '')}" for i, r in enumerate(rows)]
    colors = [GOOD if r.get("fit") else BAD if r.get("flag") else PLAIN for r in rows]
    x = np.arange(len(rows))
    fig = new_figure(height=3.2)
    ax_loss, ax_val = fig.subplots(1, 2)
    train = [_number(r.get("train_loss")) for r in rows]
    val = [_number(r.get(metric)) for r in rows]
    for ax, values, label in ((ax_loss, train, "training loss"), (ax_val, val, metric.replace("_", " "))):
        ax.plot(x, values, "-", color=MUTED, lw=1)
        ax.scatter(x, values, c=colors, s=45, zorder=3)
        if len(rows) > 3:  # a long ladder's labels would run into each other
            ax.set_xticks(x, ticks, fontsize=6.5, rotation=30, ha="right")
        else:
            ax.set_xticks(x, ticks, fontsize=7)
        ax.set(ylabel=label, xlabel="rung (one change each)")
    log_scale_if_positive(ax_loss, train)
    ax_loss.set_title("training loss per rung (green: fits, red: flagged)")
    ax_val.set_title(f"{metric.replace('_', ' ')} per rung")
    for i, r in enumerate(rows):
        if r.get("flag"):
            ax_loss.annotate("flagged: did not lower\nthe training loss", (x[i], train[i]), fontsize=7, color=BAD,
                             textcoords="offset points", xytext=(0, 8), ha="center")
    return fig


# -- step 4: regularize


def regularize(step: StepResult, material: Mapping[str, Any]) -> Any:
    """The learning curve with its power law carried to more data, and the changes tried against the baseline."""
    curve = _material(step, material, "learning_curve")
    tried = [r for r in _material(step, material, "tried") or [] if isinstance(r, Mapping)]
    has_curve = isinstance(curve, Mapping) and bool(curve.get("points"))
    if not has_curve and not tried:
        return None
    fig = new_figure(height=3.4)
    axes = fig.subplots(1, 2, width_ratios=[1, 1.3]) if has_curve and tried else [fig.subplots()]
    if has_curve:
        _learning_curve(axes[0], curve)
    if tried:
        _candidates(axes[-1], tried)
    return fig


def _learning_curve(ax: Any, curve: Mapping[str, Any]) -> None:
    metric = f"val_{curve.get('metric', 'loss')}"
    points = [p for p in curve["points"] if math.isfinite(_number(p.get(metric)))]
    sizes = np.asarray([_number(p.get("samples")) for p in points], float)
    scores = np.asarray([_number(p.get(metric)) for p in points], float)
    ax.plot(sizes, scores, "o-", color=PLAIN, ms=5, label="measured")
    law, predicted = curve.get("power_law"), _number(curve.get(f"predicted_{metric}"))
    if isinstance(law, Mapping) and len(sizes) and math.isfinite(predicted):
        factor = _number(curve.get("more_data_factor", 2.0))
        a, b = _number(law["a"]), _number(law["b"])
        # the law is fitted to the error; an accuracy-like score is 1 - error (the step says which by its prediction)
        far = sizes.max() * factor
        as_score = abs((1 - a * far ** -b) - predicted) < abs(a * far ** -b - predicted)
        n = np.geomspace(sizes.min(), far, 60)
        fitted = 1 - a * n ** -b if as_score else a * n ** -b
        inside = n <= sizes.max()
        ax.plot(n[inside], fitted[inside], "--", color=ACCENT, lw=1.2, label=f"power law (exponent {b:.2f})")
        ax.plot(n[~inside], fitted[~inside], ":", color=ACCENT, lw=1.5)
        ax.plot([far], [predicted], "*", ms=11, color=ACCENT, label=f"{factor:g}x the data: {predicted:.4g}")
    ax.set_xscale("log")
    from matplotlib.ticker import NullLocator

    ax.set_xticks(sizes, [f"{n:g}" for n in sizes], minor=False)  # the measured sizes, not log decades
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set(xlabel="training samples", ylabel=metric.replace("_", " "), title="learning curve")
    ax.legend(loc="best")


def _candidates(ax: Any, tried: Sequence[Mapping[str, Any]]) -> None:
    metric = _val_metric(tried[0])
    values = [_number(r.get(metric)) for r in tried]
    labels = [f"{r.get('change', '?')}" + ("" if math.isfinite(v) else " (not tried)") for r, v in zip(tried, values, strict=True)]
    colors = [GOOD if r.get("kept") else MUTED for r in tried]
    y = np.arange(len(tried))[::-1]  # first tried on top
    shown = [v if math.isfinite(v) else 0.0 for v in values]
    ax.barh(y, shown, color=colors, height=0.6)
    for yi, v in zip(y, values, strict=True):
        if math.isfinite(v):
            ax.text(v, yi, f" {v:.4g}", va="center", fontsize=7)
    if math.isfinite(values[0]):
        ax.axvline(values[0], color="#1f2328", ls="--", lw=1)
    ax.set_yticks(y, labels, fontsize=7)
    _zoom(ax, values, axis="x")
    ax.set(xlabel=metric.replace("_", " "), title="changes tried, in order (green: kept; dashed: baseline)")
    ax.grid(axis="y", visible=False)


# -- step 5: tune


def tune(step: StepResult, material: Mapping[str, Any]) -> Any:
    """The score of every finished trial with the best so far, and the parameters' importance."""
    curve = [p for p in _material(step, material, "curve") or [] if isinstance(p, Mapping)]
    trials = {r.get("trial"): r for r in _material(step, material, "trials") or [] if isinstance(r, Mapping)}
    if not curve:
        return None
    metric = str(step.details.get("metric", "score"))
    fig = new_figure(height=3.2)
    ax_curve, ax_imp = fig.subplots(1, 2, width_ratios=[1.5, 1])
    done = np.asarray([_number(p.get("trials")) for p in curve], float)
    values = np.asarray([_number(p.get("value")) for p in curve], float)
    pruned = [(n, _number(trials.get(p.get("trial"), {}).get("last_reported")))
              for n, p in zip(done, curve, strict=True) if not math.isfinite(_number(p.get("value")))]
    ax_curve.plot(done, values, "o", color=PLAIN, ms=5, label="trial (complete)")
    if pruned:
        ax_curve.plot([n for n, _ in pruned], [v for _, v in pruned], "x", color=MUTED, ms=6, label="pruned (last reported)")
    ax_curve.step(done, [_number(p.get("best")) for p in curve], where="post", color=GOOD, lw=1.8,
                  label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax_curve.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_curve.set(xlabel="trials finished", ylabel=f"val {metric}", title="score against trials")
    ax_curve.legend(loc="best")
    _importance(ax_imp, _material(step, material, "importance"))
    return fig


def _importance(ax: Any, importance: Any) -> None:
    values = importance.get("values") if isinstance(importance, Mapping) else None
    if not values:
        reason = importance.get("reason", "not computed") if isinstance(importance, Mapping) else "not computed"
        ax.text(0.5, 0.5, f"parameter importance not available:\n{reason}", ha="center", va="center",
                fontsize=8, wrap=True, transform=ax.transAxes)
        ax.set_axis_off()
        return
    names = list(values)[::-1]  # most important on top
    ax.barh(np.arange(len(names)), [_number(values[n]) for n in names], color=ACCENT, height=0.6)
    ax.set_yticks(np.arange(len(names)), names)
    ax.set(xlabel=f"importance ({importance.get('method', '')})", title="parameter importance")
    ax.grid(axis="y", visible=False)


# -- step 6: squeeze

#: the order the squeeze table's models are drawn in
SQUEEZE_ORDER = ("step 4", "best", "ensemble", "distilled", "longer")


def squeeze(step: StepResult, material: Mapping[str, Any]) -> Any:
    """Single best against ensemble and distilled model (validation and test), and the train-longer curve."""
    table = [r for r in _material(step, material, "table") or [] if isinstance(r, Mapping) and isinstance(r.get("val"), Mapping)]
    longer = [r for r in step.details.get("longer_curve") or [] if isinstance(r, Mapping)]
    if not table:
        return None
    table.sort(key=lambda r: SQUEEZE_ORDER.index(r["model"]) if r.get("model") in SQUEEZE_ORDER else len(SQUEEZE_ORDER))
    metrics = sorted({m for r in table for m in r["val"]}, key=lambda m: m == "loss")  # the score first
    panels = len(metrics) + bool(longer)
    fig = new_figure(height=3.2)
    axes = np.atleast_1d(fig.subplots(1, panels))
    chosen = step.details.get("chosen")
    for ax, metric in zip(axes[: len(metrics)], metrics, strict=True):
        _model_bars(ax, table, metric, chosen)
    if longer:
        _longer_curve(axes[-1], longer)
    return fig


def _model_bars(ax: Any, table: Sequence[Mapping[str, Any]], metric: str, chosen: Any) -> None:
    x = np.arange(len(table))
    splits = [s for s in ("val", "test") if any(isinstance(r.get(s), Mapping) for r in table)]
    width = 0.8 / len(splits)
    shown: list[float] = []
    for k, split in enumerate(splits):
        values = [_number((r.get(split) or {}).get(metric)) for r in table]
        shown += values
        bars = ax.bar(x + (k - (len(splits) - 1) / 2) * width, np.nan_to_num(values), width=width,
                      color=PLAIN if split == "val" else MUTED, label=split)
        ax.bar_label(bars, [f"{v:.3g}" if math.isfinite(v) else "" for v in values], fontsize=6, padding=1)
    names = [f"{r['model']}\n(final)" if r["model"] == chosen else str(r["model"]) for r in table]
    ax.set_xticks(x, names, fontsize=7, rotation=30, ha="right")
    if metric != "loss":
        _zoom(ax, shown)
    ax.set(ylabel=metric, title=f"{metric} per model (chosen on val)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=2)  # above the axes, never over a bar
    ax.grid(axis="x", visible=False)


def _longer_curve(ax: Any, records: Sequence[Mapping[str, Any]]) -> None:
    epochs = [_number(r.get("epoch")) + 1 for r in records]
    for key, color in (("train_loss", PLAIN), ("val_loss", BAD)):
        values = [_number(r.get(key)) for r in records]
        if any(math.isfinite(v) for v in values):
            ax.plot(epochs, values, "-", color=color, lw=1.5, label=key.replace("_", " "))
    ax.set(xlabel="epoch", ylabel="loss", title="trained longer (early stopping)")
    if ax.get_lines():
        ax.legend(loc="best")
