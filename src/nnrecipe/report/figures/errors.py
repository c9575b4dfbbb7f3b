"""Pictures of the error analysis (nnrecipe.steps.error_analysis): where the final model is wrong on validation.

Classification: the confusion matrix beside precision and recall per class, and the most confident mistakes
with their inputs. Regression: residuals against the target, and the worst residuals with their inputs.
Sequences: loss and accuracy per position, the target tokens with the highest loss, the worst positions in
their context. Each function returns None for the tasks it does not draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nnrecipe.report.figures.base import Table, new_figure
from nnrecipe.report.figures.inputs import decode, guess_kind
from nnrecipe.report.figures.look import canvas, describe_input, image_of, short

#: classes up to which the confusion matrix shows its counts in the cells
ANNOTATED = 12
#: tokens of input shown before a sequence's worst positions
CONTEXT = 40


def _kind(art: Mapping[str, Any]) -> str:
    kind = art.get("kind")
    if kind in ("image", "signal", "table", "text"):
        return str(kind)
    inputs = [np.asarray(x) for x in art.get("inputs", {}).values()]
    if not inputs:
        return "table"
    if art.get("task") == "sequence":
        return "text"
    return guess_kind(np.stack(inputs)) if all(x.shape == inputs[0].shape for x in inputs) else "table"


def confusion(art: Mapping[str, Any]) -> Any:
    if art.get("task") != "classification":
        return None
    matrix = np.asarray(art["confusion"], dtype=float)
    numbers = art["numbers"]
    per_class = sorted(numbers["per_class"], key=lambda r: r["class"])
    names = [short(r["name"]) for r in per_class] if len(per_class) == len(matrix) else [
        str(i) for i in range(len(matrix))]
    fig = new_figure(height=min(2.6 + 0.12 * len(matrix), 7.0))
    ax_m, ax_s = fig.subplots(1, 2, width_ratios=[1.1, 1])
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    shown = ax_m.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax_m.grid(False)
    if len(matrix) <= ANNOTATED:
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                ax_m.text(j, i, f"{int(count)}", ha="center", va="center", fontsize=7,
                          color="white" if rates[i, j] > 0.5 else "#1f2328")
    if len(matrix) <= 40:
        ax_m.set_xticks(range(len(matrix)), names, rotation=45 if len(matrix) > 8 else 0, fontsize=7)
        ax_m.set_yticks(range(len(matrix)), names, fontsize=7)
    ax_m.set(xlabel="predicted", ylabel="target", title=f"confusion on validation (accuracy {numbers['accuracy']:.3g})")
    fig.colorbar(shown, ax=ax_m, shrink=0.8, label="share of the target's samples")
    if len(per_class) <= 40:
        ids = np.arange(len(per_class))
        ax_s.bar(ids - 0.2, [r["precision"] for r in per_class], width=0.4, label="precision", color="#0969da")
        ax_s.bar(ids + 0.2, [r["recall"] for r in per_class], width=0.4, label="recall", color="#bf8700")
        ax_s.set_xticks(ids, [short(r["name"]) for r in per_class], rotation=45 if len(per_class) > 8 else 0,
                        fontsize=7)
        ax_s.set(ylim=(0, 1.05), title="per class, on validation")
        ax_s.legend(loc="lower right")
    else:
        ax_s.hist([r["recall"] for r in per_class], bins=20, color="#bf8700")
        ax_s.set(xlabel="recall", ylabel="classes", title="recall per class (the lowest listed)")
    return fig


def mistakes(art: Mapping[str, Any]) -> Any:
    if art.get("task") != "classification":
        return None
    rows = art["numbers"]["confident_mistakes"]
    if not rows:
        return Table([], [], caption="every validation sample is predicted right: no mistake to show")
    return _samples(art, rows, [f"#{r['index']} ({r['confidence']:.2f})\n{short(r['target'], 9)} → "
                                f"{short(r['predicted'], 9)}" for r in rows],
                    columns=["#", "target", "predicted", "confidence"],
                    cells=[[r["index"], r["target"], r["predicted"], f"{r['confidence']:.3f}"] for r in rows],
                    caption="validation samples the model got wrong with the highest confidence: target → predicted")


def residuals(art: Mapping[str, Any]) -> Any:
    if art.get("task") != "regression":
        return None
    target, residual = np.asarray(art["target"], float), np.asarray(art["residual"], float)
    numbers = art["numbers"]
    fig = new_figure(height=3.0)
    ax_s, ax_h = fig.subplots(1, 2, width_ratios=[1.6, 1])
    ax_s.scatter(target, residual, s=8, alpha=0.5, color="#0969da")
    ax_s.axhline(0, color="#1f2328", lw=0.8)
    worst = numbers["worst"]
    ax_s.scatter([r["target"] for r in worst], [r["residual"] for r in worst], s=18, facecolors="none",
                 edgecolors="#cf222e", label="the worst, listed below")
    ax_s.set(xlabel="target", ylabel="residual (prediction - target)",
             title=f"residuals on validation (slope {numbers['residual_vs_target_slope']:.2g})")
    ax_s.legend()
    ax_h.hist(residual, bins=30, color="#0969da", alpha=0.7)
    ax_h.axvline(numbers["bias"], color="#cf222e", lw=1, label=f"mean {numbers['bias']:.3g}")
    ax_h.set(xlabel="residual", ylabel="samples", title=f"MAE {numbers['mae']:.3g}, MSE {numbers['mse']:.3g}")
    ax_h.legend()
    return fig


def worst_residuals(art: Mapping[str, Any]) -> Any:
    if art.get("task") != "regression":
        return None
    rows = art["numbers"]["worst"]
    return _samples(art, rows, [f"#{r['index']}\n{r['target']:.3g} → {r['prediction']:.3g}" for r in rows],
                    columns=["#", "target", "prediction", "residual"],
                    cells=[[r["index"], f"{r['target']:.4g}", f"{r['prediction']:.4g}", f"{r['residual']:+.4g}"]
                           for r in rows],
                    caption="validation samples with the largest residuals: target → prediction")


def positions(art: Mapping[str, Any]) -> Any:
    if art.get("task") != "sequence":
        return None
    numbers = art["numbers"]
    loss = np.asarray(numbers["loss_per_position"], float)
    accuracy = np.asarray(numbers["accuracy_per_position"], float)
    fig = new_figure(height=2.8)
    ax = fig.subplots()
    ax.plot(np.arange(len(loss)), loss, color="#0969da", lw=1.5, label="cross-entropy")
    ax.set(xlabel="position in the sequence", ylabel="mean loss", title="loss per position on validation")
    twin = ax.twinx()
    twin.plot(np.arange(len(accuracy)), accuracy, color="#bf8700", lw=1, label="accuracy")
    twin.set_ylabel("accuracy")
    twin.set_ylim(0, 1.02)
    twin.grid(False)
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], loc="upper right")
    return fig


def hardest_tokens(art: Mapping[str, Any]) -> Any:
    if art.get("task") != "sequence" or not art["numbers"]["hardest_tokens"]:
        return None
    rows = [[r["text"], r["token"], f"{r['mean_loss']:.3f}", r["count"]] for r in art["numbers"]["hardest_tokens"]]
    return Table(["target token", "id", "mean loss", "positions"], rows,
                 caption="the target tokens the model finds hardest to predict (mean cross-entropy on validation)")


def worst_positions(art: Mapping[str, Any]) -> Any:
    if art.get("task") != "sequence" or not art["numbers"]["worst"]:
        return None
    rows = []
    for r in art["numbers"]["worst"]:
        ids = np.asarray(art["inputs"].get(r["index"], []), dtype=np.int64).ravel()
        context = decode(ids[max(0, r["position"] - CONTEXT + 1): r["position"] + 1], art.get("vocab"))
        rows.append([r["index"], r["position"], context.replace("\n", "⏎")[-CONTEXT:], r["target"], r["predicted"],
                     f"{r['loss']:.3f}"])
    return Table(["#", "position", "input up to the position", "target", "predicted", "loss"], rows,
                 caption="the validation positions with the highest loss, with the input the model saw up to them")


def _samples(art: Mapping[str, Any], rows: list[dict[str, Any]], titles: list[str], *, columns: list[str],
             cells: list[list[Any]], caption: str) -> Any:
    """The listed samples decoded by kind: images and signals drawn, rows and texts as a table."""
    kind = _kind(art)
    inputs = [art["inputs"].get(r["index"]) for r in rows]
    if kind == "image":
        return _image_grid(inputs, titles)
    if kind == "signal":
        return _signal_grid(inputs, titles)
    return Table([*columns, "input"], [[*cell, describe_input(x, kind=kind, vocab=art.get("vocab"))]
                                       for cell, x in zip(cells, inputs, strict=True)], caption=caption)


def _image_grid(inputs: list[Any], titles: list[str]) -> Any:
    images = [image_of(x) for x in inputs]
    cols = min(6, len(images))
    rows = -(-len(images) // cols)
    height = 1.7 * rows + 0.2
    fig = new_figure(height=height, grid=True)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.1 / height, top=1 - 0.45 / height, hspace=0.6, wspace=0.1)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    flat = [im for im in images if im is not None]
    lo = min((float(np.nanmin(im)) for im in flat), default=0.0)
    hi = max((float(np.nanmax(im)) for im in flat), default=1.0)
    for i, ax in enumerate(axes):
        ax.axis("off")
        img = images[i] if i < len(images) else None
        if img is not None:
            side = max(img.shape[:2])
            ax.imshow(canvas([[img]], side=side, lo=lo, hi=hi)[1:-1, 1:-1], interpolation="nearest")
            ax.set_title(titles[i], fontsize=7, pad=2)
    return fig


def _signal_grid(inputs: list[Any], titles: list[str]) -> Any:
    cols = 4
    rows = -(-len(inputs) // cols)
    height = 1.5 * rows + 0.3
    fig = new_figure(height=height, grid=True)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.25 / height, top=1 - 0.45 / height, hspace=0.8)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True)).ravel()
    for i, ax in enumerate(axes):
        if i >= len(inputs) or inputs[i] is None:
            ax.axis("off")
            continue
        arr = np.asarray(inputs[i], dtype=float)
        for line in arr.reshape(-1, arr.shape[-1]):
            ax.plot(line, lw=1)
        ax.set_title(titles[i], fontsize=7, pad=2)
        ax.tick_params(labelsize=6)
    return fig


def summary(art: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers shown under the first picture of the section."""
    numbers = art["numbers"]
    keep = ("model", "split", "samples", "accuracy", "mse", "mae", "bias", "residual_vs_target_slope", "loss",
            "tokens_scored", "residual_quantiles")
    out = {k: numbers[k] for k in keep if k in numbers}
    if numbers.get("top_confusions"):
        out["most confused"] = "; ".join(f"{c['target']} → {c['predicted']}: {c['count']}"
                                         for c in numbers["top_confusions"][:5])
    return out
