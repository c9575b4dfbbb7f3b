"""Pictures of the step-2 checks (end-to-end skeleton): what each check measured, drawn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nnrecipe.report.figures.base import log_scale_if_positive, new_figure, smooth
from nnrecipe.results import CheckResult


def init_loss(check: CheckResult, material: Mapping[str, Any]) -> Any:
    """Predicted class distribution at init against the data prior; the loss against its theoretical range."""
    ev = check.evidence
    if "measured" not in ev:
        return None
    has_prior = "prior" in ev and "predicted_at_init" in ev
    fig = new_figure(height=2.8)
    axes: Any = fig.subplots(1, 2, width_ratios=[2.2, 1]) if has_prior else [None, fig.subplots()]
    if has_prior:
        ax = axes[0]
        prior, predicted = np.asarray(ev["prior"], float), np.asarray(ev["predicted_at_init"], float)
        ids = np.arange(len(prior))
        ax.bar(ids - 0.2, prior, width=0.4, label="data prior", color="#8c959f")
        ax.bar(ids + 0.2, predicted, width=0.4, label="predicted at init (mean softmax)", color="#0969da")
        ax.set(xlabel="class", ylabel="probability", title="class distribution at initialization")
        if len(ids) <= 30:
            ax.set_xticks(ids)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.1), ncol=2)
    _loss_range(axes[1], ev)
    return fig


def _loss_range(ax: Any, ev: Any) -> None:
    low, high = ev.get("expected_with_prior_bias"), ev.get("expected")
    if low is not None and high is not None:
        lo, hi = min(low, high), max(low, high)
        ax.axhspan(lo, hi if hi > lo else lo * 1.0001, color="#1a7f37", alpha=0.18, label="expected range")
        ax.axhline(hi, color="#1a7f37", lw=1)
    per_init = ev.get("per_init") or [ev["measured"]]
    ax.plot(np.arange(len(per_init)), per_init, "o", color="#0969da", label="measured (per init)")
    ax.axhline(ev["measured"], color="#0969da", ls="--", lw=1, label="measured (mean)")
    ax.set(xlabel="initialization", ylabel="loss", title="loss at init", xticks=range(len(per_init)))
    # Scale to the theory, not to the spread between inits: 2.3025 vs 2.3036 must not look far apart.
    values = [v for v in [*per_init, low, high] if v is not None and np.isfinite(v)]
    if values:
        ax.set_ylim(min(0.0, min(values)), max(values) * 1.35)
    ax.legend(loc="lower center")


def overfit_one_batch(check: CheckResult, material: Mapping[str, Any]) -> Any:
    """Labels and predictions in one plot, at the start and at the end; the loss on the batch."""
    if "labels" not in material or "predictions_end" not in material:
        return None
    task = check.evidence.get("task", "classification")
    fig = new_figure(height=2.9)
    ax_start, ax_end, ax_loss = fig.subplots(1, 3, width_ratios=[1, 1, 1.1])
    for ax, key, when in ((ax_start, "predictions_start", "at the start"), (ax_end, "predictions_end", "at the end")):
        if task == "sequence":
            _token_matches(ax, material["labels"], material.get(key), when)
        else:
            _labels_and_predictions(ax, material["labels"], material.get(key), when, regression=task == "regression")
    curve = material.get("loss_curve") or []
    every = material.get("check_every", 1)
    ax_loss.plot(np.arange(len(curve)) * every, curve, "-o", ms=3, color="#cf222e")
    log_scale_if_positive(ax_loss, curve)
    ax_loss.set(xlabel="step", ylabel="loss on the batch", title="loss while overfitting")
    return fig


def _labels_and_predictions(ax: Any, labels: Sequence[Any], predictions: Sequence[Any] | None, when: str,
                            *, regression: bool) -> None:
    y = np.asarray(labels, float)
    order = np.argsort(y, kind="stable") if regression else np.arange(len(y))  # sorted targets read as a curve
    idx = np.arange(len(y))
    ax.plot(idx, y[order], "o", ms=9, mfc="none", mec="#1f2328", label="label")
    if predictions is not None:
        p = np.asarray(predictions, float)
        hit = np.isclose(p, y) if not regression else np.ones_like(y, bool)
        color = np.where(hit[order], "#1a7f37", "#cf222e") if not regression else "#0969da"
        ax.scatter(idx, p[order], marker="x", s=30, c=color, label="prediction", zorder=3)
    ax.set(xlabel="example" + (" (sorted by label)" if regression else ""), ylabel="value" if regression else "class",
           title=f"labels and predictions {when}")
    if not regression:
        ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)  # below the axes, never over a point


def _token_matches(ax: Any, labels: Sequence[Any], predictions: Sequence[Any] | None, when: str) -> None:
    y = np.asarray(labels)
    p = np.asarray(predictions) if predictions is not None else np.full_like(y, -1)
    width = min(y.shape[-1], p.shape[-1])
    match = (y[:, :width] == p[:, :width]).astype(float)
    from matplotlib.colors import ListedColormap

    ax.imshow(match, aspect="auto", cmap=ListedColormap(["#ff8182", "#4ac26b"]), vmin=0, vmax=1,
              interpolation="nearest")
    ax.set(xlabel="position", ylabel="sequence", title=f"predicted token = label {when} ({match.mean():.0%})")
    ax.grid(False)


def loss_decreases(check: CheckResult, material: Mapping[str, Any]) -> Any:
    """The loss at every step of the short run (and its moving average), the learning rate below it."""
    losses = material.get("step_losses")
    if not losses:
        return None
    lrs = material.get("step_lrs") or []
    fig = new_figure(height=3.2)
    ax, ax_lr = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    steps = np.arange(len(losses))
    ax.plot(steps, losses, color="#0969da", alpha=0.35, lw=1, label="loss per step")
    ax.plot(steps, smooth(losses, max(1, len(losses) // 15)), color="#0969da", lw=2, label="moving average")
    log_scale_if_positive(ax, losses)
    ax.set(ylabel="training loss", title="loss during the short run")
    ax.legend()
    if lrs:
        ax_lr.plot(np.arange(len(lrs)), lrs, color="#8250df")
        ax_lr.set_ylim(0, max(lrs) * 1.15 or 1.0)  # from zero: a constant lr reads as a flat line, not noise
    ax_lr.set(xlabel="step", ylabel="learning rate")
    return fig
