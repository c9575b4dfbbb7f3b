"""Pictures of the run's final training: loss curves and learning rate, prediction dynamics on a fixed
validation batch, the first layer's weights, and activation and gradient statistics per layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nnrecipe.report.figures.base import label_names, log_scale_if_positive, new_figure, smooth


def history(h: Any) -> Any:
    """Train loss per step (and smoothed), full-validation loss and metrics per epoch, the lr per step.

    A watched loop (`nr.watch`) gives the step of every value (`loss_steps`, `lr_steps`, `val_steps`): its
    validation losses come on the steps it evaluated, not once per epoch."""
    losses = list(getattr(h, "step_losses", []) or [])
    if not losses:
        return None
    epochs = list(getattr(h, "epochs", []) or [])
    steps_per_epoch = len(losses) / max(len(epochs), 1)
    epoch_end = [(i + 1) * steps_per_epoch for i in range(len(epochs))]
    watched = getattr(h, "loss_steps", None) is not None
    if watched:
        steps_per_epoch = max(2.0, len(losses) / 10)  # the smoothing window: a tenth of the run
        epoch_end = [s + 1 for s in h.val_steps]
    metrics = sorted({k for e in epochs for k in e.val if k != "loss"})
    fig = new_figure(height=3.4)
    grid = fig.add_gridspec(2, 2, height_ratios=[3, 1], width_ratios=[1.6, 1])
    ax_loss = fig.add_subplot(grid[0, 0])
    ax_lr = fig.add_subplot(grid[1, 0], sharex=ax_loss)
    ax_metric = fig.add_subplot(grid[:, 1])
    steps = np.asarray(h.loss_steps) + 1 if watched else np.arange(1, len(losses) + 1)
    ax_loss.plot(steps, losses, color="#0969da", alpha=0.25, lw=0.8)
    ax_loss.plot(steps, smooth(losses, max(1, int(steps_per_epoch // 2))), color="#0969da", lw=1.8, label="train (per step, smoothed)")
    val_loss = [e.val.get("loss", np.nan) for e in epochs]
    if epochs and np.isfinite(val_loss).any():
        ax_loss.plot(epoch_end, val_loss, "-o", ms=3, color="#cf222e",
                     label="validation (as logged)" if watched else "validation (whole split, per epoch)")
    log_scale_if_positive(ax_loss, losses + [v for v in val_loss if np.isfinite(v)])
    ax_loss.set(ylabel="loss", title="loss curves")
    ax_loss.legend()
    ax_lr.plot(np.asarray(h.lr_steps) + 1 if watched else np.arange(1, len(h.step_lrs) + 1), h.step_lrs,
               color="#8250df")
    ax_lr.set_ylim(0, max(h.step_lrs, default=0) * 1.15 or 1.0)
    ax_lr.set(xlabel="step", ylabel="learning rate")
    for metric in metrics:
        ax_metric.plot(epoch_end if watched else [e.epoch + 1 for e in epochs],
                       [e.val.get(metric, np.nan) for e in epochs], "-o", ms=3, label=f"validation {metric}")
    ax_metric.set(xlabel="step" if watched else "epoch", title="validation metrics" if metrics else "no validation metrics")
    if metrics:
        ax_metric.legend()
    return fig


def prediction_dynamics(art: Mapping[str, Any]) -> Any:
    """Predictions on one fixed validation batch, before training and after every epoch."""
    outputs, epochs = np.asarray(art["outputs"], float), list(art["epochs"])
    targets = np.asarray(art["targets"])
    ticks = ["init" if e < 0 else str(e + 1) for e in epochs]
    if art["task"] == "regression":
        return _regression_dynamics(outputs, targets, ticks)
    if art["task"] == "sequence":  # outputs (E, N): p(true token) averaged over positions
        p_true, rows = outputs.T, [f"#{i}" for i in range(outputs.shape[1])]
        title = "probability of the true next token (mean over positions)"
        return _heatmap(p_true, rows, ticks, title, None)
    # classification: outputs (E, N, C)
    n = outputs.shape[1]
    p_true = outputs[:, np.arange(n), targets.astype(int)].T  # (N, E)
    names = label_names(art.get("class_names"), outputs.shape[2])
    rows = [f"#{i} · {_clip(names[int(t)], 20)}" for i, t in enumerate(targets)]
    predicted = outputs.argmax(-1).T  # (N, E)
    return _heatmap(p_true, rows, ticks, "probability given to the true class; the text is the predicted class",
                    [[_clip(names[int(c)], 6) for c in row] for row in predicted])


def _heatmap(values: np.ndarray, rows: list[str], ticks: list[str], title: str, text: list[list[str]] | None) -> Any:
    n, e = values.shape
    fig = new_figure(height=0.26 * n + 1.2)
    ax = fig.subplots()
    image = ax.imshow(values, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks(range(n), rows)
    step = max(1, e // 20)
    ax.set_xticks(range(0, e, step), ticks[::step])
    ax.set(xlabel="epoch", title=title)
    ax.grid(False)
    if text is not None and e <= 40:
        for i in range(n):
            for j in range(e):
                ax.text(j, i, text[i][j], ha="center", va="center", fontsize=6, color="#1f2328")
    fig.colorbar(image, ax=ax, shrink=0.8, pad=0.01)
    return fig


def _regression_dynamics(outputs: np.ndarray, targets: np.ndarray, ticks: list[str]) -> Any:
    y = targets.reshape(len(targets), -1)[:, 0]
    order = np.argsort(y, kind="stable")
    fig = new_figure(height=3.0)
    ax = fig.subplots()
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for k, row in enumerate(outputs):
        ax.plot(np.arange(len(y)), row[order], "-", lw=1, color=cmap(k / max(len(outputs) - 1, 1)),
                label=f"epoch {ticks[k]}" if k in (0, len(outputs) - 1) else None)
    ax.plot(np.arange(len(y)), y[order], "o", mfc="none", mec="#1f2328", ms=7, label="target")
    ax.set(xlabel="example (sorted by target)", ylabel="value", title="predictions over training (dark: early, yellow: late)")
    ax.legend()
    return fig


def first_layer(art: Mapping[str, Any]) -> Any:
    """The first layer's weights at initialization and after training: conv filters as images."""
    first = art.get("first_layer")
    if not first or "final" not in first:
        return None
    kind, final, init = first["type"], np.asarray(first["final"]), np.asarray(first["init"])
    if kind == "Conv2d":
        return _filter_grid(init, final)
    fig = new_figure(height=2.8)
    axes = fig.subplots(1, 2)
    for ax, w, when in ((axes[0], init, "at initialization"), (axes[1], final, "after training")):
        m = w.reshape(len(w), -1)  # Conv1d (out, in*k); Linear (out, in); Embedding (tokens, dim)
        bound = float(np.abs(m).max()) or 1.0
        image = ax.imshow(m, aspect="auto", cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
        unit = "token" if kind == "Embedding" else "output unit"
        ax.set(title=f"{kind} weights {when}", ylabel=unit,
               xlabel="input x kernel position" if kind == "Conv1d" else "input feature")
        ax.grid(False)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def _filter_grid(init: np.ndarray, final: np.ndarray) -> Any:
    count = min(len(final), 32)
    cols = min(count, 16)
    rows = -(-count // cols)
    fig = new_figure(height=0.62 * rows * 2 + 0.6, grid=True)
    subfigs: Any = fig.subfigures(2, 1)
    for sub, w, when in ((subfigs[0], init, "at initialization"), (subfigs[1], final, "after training")):
        axes = np.atleast_1d(sub.subplots(rows, cols)).ravel()
        for i, ax in enumerate(axes):
            ax.axis("off")
            if i >= count:
                continue
            f = w[i]  # (in, kh, kw)
            img = np.moveaxis(f, 0, -1) if f.shape[0] == 3 else f.mean(0)
            img = (img - img.min()) / max(float(img.max() - img.min()), 1e-12)  # each filter on its own range
            ax.imshow(img, cmap=None if img.ndim == 3 else "gray", interpolation="nearest")
        sub.suptitle(f"first-layer filters {when}", fontsize=9)
    return fig


def layer_statistics(art: Mapping[str, Any]) -> Any:
    """Per layer: activation std and share of zeros, gradient std and update/weight ratio, on sampled steps."""
    records = art.get("records") or []
    if not records:
        return None
    layers = list(dict.fromkeys(name for r in records for name in r["activations"]))
    params = list(dict.fromkeys(name for r in records for name in r["gradients"]))
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    fig = new_figure(height=5.6)
    axes = fig.subplots(2, 2).ravel()
    panels = (
        (axes[0], layers, "activations", "std", "activation std", False),
        (axes[1], layers, "activations", "zero_fraction", "share of exact zeros (dead units)", False),
        (axes[2], params, "gradients", "grad_std", "gradient std", True),
        (axes[3], params, "gradients", "update_ratio", "|update| / |weight| per step", True),
    )
    for ax, names, group, field, title, log in panels:
        for k, r in enumerate(records):
            values = [r[group].get(n, {}).get(field, np.nan) for n in names]
            ax.plot(range(len(names)), values, "-o", ms=2.5, lw=1, color=cmap(k / max(len(records) - 1, 1)),
                    label=f"step {r['step']}" if k in (0, len(records) - 1) else None)
        ax.set_xticks(range(len(names)), [_short(n) for n in names], rotation=60, ha="right", fontsize=6.5)
        ax.set(title=title)
        if log and _all_positive(ax):
            ax.set_yscale("log")
        if field == "update_ratio":
            ax.axhline(1e-3, color="#6e7781", ls="--", lw=1, label="~1e-3: healthy")
        ax.legend()
    return fig


def _clip(text: str, limit: int) -> str:
    """Long class names would spill over the neighbouring cells."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1):]


def _all_positive(ax: Any) -> bool:
    ys = np.concatenate([line.get_ydata() for line in ax.get_lines()] or [np.array([])]).astype(float)
    ys = ys[np.isfinite(ys)]
    return bool(len(ys)) and bool((ys > 0).all())
