"""Error analysis of the run's final model on validation: where it is wrong, and on which samples.

"Look at your network (mis)predictions and understand where they might be coming from" (the recipe, step 1).
One pass over the validation split, in eval mode, batch by batch:

- classification: the confusion matrix, precision, recall and F1 per class, the most confident mistakes;
- regression: the residuals (prediction - target) against the target, their spread and bias, the worst ones;
- sequences: the cross-entropy per position, the target tokens with the highest mean loss, the worst positions.

`analyse` returns the numbers (plain data, for result.json) and the material for the report's pictures (the
inputs of the samples it names, read back from the dataset). The test split is never looked at here.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nnrecipe.engine.data import Batches, infer_num_classes
from nnrecipe.engine.loop import mode, predicted_classes
from nnrecipe.engine.outputs import forward
from nnrecipe.engine.targets import ignore_index, labelled
from nnrecipe.engine.tokens import decode
from nnrecipe.experiment import Experiment

#: samples named by each list (confident mistakes, worst residuals, worst positions)
SHOWN = 12
#: the confusion matrix is written out whole up to this many classes (beyond: its largest off-diagonal cells)
MATRIX_CLASSES = 50
#: per-class scores are listed for up to this many classes (beyond: the ones with the lowest recall)
LISTED_CLASSES = 100
#: a target token needs this many labelled positions before its mean loss is ranked
MIN_TOKEN_COUNT = 5
#: tokens of context shown before a sequence's worst positions
CONTEXT = 40
BATCH = 256


def analyse(model: nn.Module, exp: Experiment, *, device: torch.device) -> tuple[dict[str, Any], dict[str, Any]]:
    """(numbers, artifact): the error analysis of `model` on the validation split."""
    with torch.no_grad(), mode(model, False):
        if exp.task == "classification":
            numbers = _classification(model, exp, device)
        elif exp.task == "regression":
            numbers = _regression(model, exp, device)
        else:
            numbers = _sequence(model, exp, device)
    arrays = numbers.pop("_arrays", {})
    rows = numbers.get("confident_mistakes") or numbers.get("worst") or []
    indices = sorted({int(r["index"]) for r in rows})
    inputs = {i: np.asarray(_input(exp.val[i][0])) for i in indices}
    artifact = {"task": exp.task, "kind": exp.kind, "class_names": list(exp.class_names or []) or None,
                "vocab": exp.vocab, "numbers": numbers, "inputs": inputs, **arrays}
    return numbers, artifact


def _input(x: Any) -> Any:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def _batches(exp: Experiment, device: torch.device) -> Any:
    start = 0
    for x, y in Batches(exp.val, batch_size=BATCH, shuffle=False, seed=0):
        index = torch.arange(start, start + len(x))
        start += len(x)
        yield index, x.to(device), y.to(device)


# -- classification


def _classification(model: nn.Module, exp: Experiment, device: torch.device) -> dict[str, Any]:
    ignore = ignore_index(exp)
    parts: dict[str, list[torch.Tensor]] = {"index": [], "y": [], "pred": [], "conf": [], "p_true": []}
    for index, x, y in _batches(exp, device):
        out = forward(model, x).float()
        probs = _probabilities(out, y)  # (B, C)
        keep = labelled(y, ignore)
        y_safe = torch.where(keep, y, torch.zeros_like(y)).long().clamp(0, probs.shape[-1] - 1)
        pred = predicted_classes(out, y)
        for name, value in (("index", index), ("y", y), ("pred", pred), ("conf", probs.max(dim=-1).values),
                            ("p_true", probs.gather(-1, y_safe[:, None])[:, 0])):
            parts[name].append(value[keep.cpu()].cpu() if name == "index" else value[keep].cpu())
    got = {k: torch.cat(v).numpy() for k, v in parts.items()}
    classes = max(infer_num_classes(exp) or 0, int(got["y"].max(initial=0)) + 1, int(got["pred"].max(initial=0)) + 1)
    return classification_numbers(got["index"], got["y"].astype(np.int64), got["pred"].astype(np.int64), got["conf"],
                                  got["p_true"], classes=classes, names=list(exp.class_names or []))


def _probabilities(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if out.dim() == y.dim() or (out.dim() == y.dim() + 1 and out.shape[-1] == 1):  # one binary logit
        p1 = torch.sigmoid(out.reshape(y.shape))
        return torch.stack([1 - p1, p1], dim=-1)
    return torch.softmax(out, dim=-1)


def classification_numbers(index: np.ndarray, y: np.ndarray, pred: np.ndarray, conf: np.ndarray,
                           p_true: np.ndarray, *, classes: int, names: list[str]) -> dict[str, Any]:
    """The confusion matrix, per-class scores and the most confident mistakes, from per-sample predictions."""
    matrix = np.bincount(y * classes + pred, minlength=classes * classes).reshape(classes, classes)
    support, predicted, right = matrix.sum(axis=1), matrix.sum(axis=0), np.diag(matrix)

    def label(c: int) -> str:
        return names[c] if c < len(names) else str(c)

    per_class: list[dict[str, Any]] = []
    for c in range(classes):
        precision = right[c] / predicted[c] if predicted[c] else math.nan
        recall = right[c] / support[c] if support[c] else math.nan
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else math.nan
        per_class.append({"class": c, "name": label(c), "support": int(support[c]), "precision": float(precision),
                          "recall": float(recall), "f1": float(f1)})
    if len(per_class) > LISTED_CLASSES:
        per_class = sorted(per_class, key=lambda r: (r["recall"] if math.isfinite(r["recall"]) else 2.0))[:LISTED_CLASSES]
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    pairs = np.argsort(-off, axis=None)[:10]
    confusions = [{"target": label(int(p // classes)), "predicted": label(int(p % classes)),
                   "count": int(off.flat[p])} for p in pairs if off.flat[p] > 0]
    wrong = np.nonzero(y != pred)[0]
    worst = wrong[np.argsort(-conf[wrong], kind="stable")][:SHOWN]
    mistakes = [{"index": int(index[i]), "target": label(int(y[i])), "predicted": label(int(pred[i])),
                 "confidence": float(conf[i]), "target_probability": float(p_true[i])} for i in worst]
    out: dict[str, Any] = {"split": "val", "samples": int(len(y)),
                           "accuracy": float((y == pred).mean()) if len(y) else math.nan,
                           "classes": [label(c) for c in range(classes)] if classes <= MATRIX_CLASSES else classes,
                           "per_class": per_class, "top_confusions": confusions, "confident_mistakes": mistakes,
                           "_arrays": {"confusion": matrix}}
    if classes <= MATRIX_CLASSES:
        out["confusion"] = matrix.tolist()  # rows: the target class, columns: the predicted class
    return out


# -- regression


def _regression(model: nn.Module, exp: Experiment, device: torch.device) -> dict[str, Any]:
    targets, predictions, indices = [], [], []
    for index, x, y in _batches(exp, device):
        out = forward(model, x).float()
        out = out.reshape(y.shape) if out.numel() == y.numel() else out
        targets.append(y.float().reshape(len(y), -1).mean(dim=1).cpu())  # a sample's target: its mean value
        predictions.append(out.reshape(len(y), -1).mean(dim=1).cpu())
        indices.append(index)
    return regression_numbers(torch.cat(indices).numpy(), torch.cat(targets).numpy(), torch.cat(predictions).numpy())


def regression_numbers(index: np.ndarray, target: np.ndarray, prediction: np.ndarray) -> dict[str, Any]:
    """Residuals (prediction - target): their spread and bias, their trend against the target, the worst ones."""
    residual = prediction - target
    quantiles = np.quantile(residual, [0.05, 0.25, 0.5, 0.75, 0.95]) if len(residual) else [math.nan] * 5
    # the slope of the residual on the target: negative when the model pulls its predictions toward the mean
    slope = float(np.polyfit(target, residual, 1)[0]) if len(target) > 1 and np.ptp(target) > 0 else math.nan
    worst = np.argsort(-np.abs(residual), kind="stable")[:SHOWN]
    return {"split": "val", "samples": int(len(residual)), "mse": float(np.mean(residual ** 2)),
            "mae": float(np.mean(np.abs(residual))), "bias": float(np.mean(residual)),
            "residual_quantiles": dict(zip(("p5", "p25", "p50", "p75", "p95"), map(float, quantiles), strict=True)),
            "residual_vs_target_slope": slope,
            "worst": [{"index": int(index[i]), "target": float(target[i]), "prediction": float(prediction[i]),
                       "residual": float(residual[i])} for i in worst],
            "_arrays": {"target": target, "residual": residual}}


# -- sequences


def _sequence(model: nn.Module, exp: Experiment, device: torch.device) -> dict[str, Any]:
    ignore = ignore_index(exp)
    skip = -100 if ignore is None else ignore
    vocab_size = infer_num_classes(exp) or 1
    position_loss = torch.zeros(0, dtype=torch.float64)
    position_right = torch.zeros(0, dtype=torch.float64)
    position_count = torch.zeros(0, dtype=torch.float64)
    token_loss = torch.zeros(vocab_size, dtype=torch.float64)
    token_count = torch.zeros(vocab_size, dtype=torch.float64)
    worst: list[tuple[float, int, int, int, int]] = []  # a min-heap of (loss, index, position, target, predicted)
    for index, x, y in _batches(exp, device):
        out = forward(model, x).float()  # (B, T, V)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1).long(), reduction="none",
                               ignore_index=skip).reshape(y.shape).double().cpu()  # (B, T)
        keep = labelled(y, ignore).cpu()
        pred = out.argmax(-1).cpu()
        y_cpu = y.cpu().long()
        steps = y.shape[1]
        if len(position_loss) < steps:
            grow = steps - len(position_loss)
            position_loss, position_right, position_count = (torch.cat([t, torch.zeros(grow, dtype=torch.float64)])
                                                             for t in (position_loss, position_right, position_count))
        position_loss[:steps] += (loss * keep).sum(0)
        position_right[:steps] += ((pred == y_cpu) & keep).double().sum(0)
        position_count[:steps] += keep.double().sum(0)
        ids = y_cpu[keep]
        inside = (ids >= 0) & (ids < vocab_size)
        token_loss.index_add_(0, ids[inside], loss[keep][inside])
        token_count.index_add_(0, ids[inside], torch.ones(int(inside.sum()), dtype=torch.float64))
        flat = loss.masked_fill(~keep, -math.inf).reshape(-1)
        for k in torch.topk(flat, min(SHOWN, int(keep.sum()))).indices.tolist():  # this batch's worst positions
            b, t = divmod(k, steps)
            entry = (float(flat[k]), int(index[b]), t, int(y_cpu[b, t]), int(pred[b, t]))
            if len(worst) < SHOWN:
                heapq.heappush(worst, entry)
            elif entry[0] > worst[0][0]:
                heapq.heapreplace(worst, entry)
    return sequence_numbers(position_loss, position_right, position_count, token_loss, token_count,
                            sorted(worst, reverse=True), vocab=exp.vocab)


def sequence_numbers(position_loss: torch.Tensor, position_right: torch.Tensor, position_count: torch.Tensor,
                     token_loss: torch.Tensor, token_count: torch.Tensor,
                     worst: list[tuple[float, int, int, int, int]], *, vocab: Any) -> dict[str, Any]:
    """Loss and accuracy per position, the target tokens with the highest mean loss, the worst positions."""
    per_position = (position_loss / position_count.clamp_min(1)).tolist()
    accuracy = (position_right / position_count.clamp_min(1)).tolist()
    mean = token_loss / token_count.clamp_min(1)
    ranked = [int(i) for i in torch.argsort(mean, descending=True) if token_count[i] >= MIN_TOKEN_COUNT]
    total = float(position_count.sum())
    return {"split": "val", "positions": len(per_position), "tokens_scored": int(total),
            "loss": float(position_loss.sum() / max(total, 1.0)),
            "loss_per_position": per_position, "accuracy_per_position": accuracy,
            "hardest_tokens": [{"token": i, "text": token_text(i, vocab), "mean_loss": float(mean[i]),
                                "count": int(token_count[i])} for i in ranked[:15]],
            "worst": [{"index": i, "position": t, "target": token_text(target, vocab),
                       "predicted": token_text(predicted, vocab), "loss": loss}
                      for loss, i, t, target, predicted in worst]}


def token_text(token: int, vocab: Any) -> str:
    """A token id as its text in the vocabulary (newlines and spaces made visible), else the id."""
    if vocab is None:
        return str(token)
    return decode([token], vocab).replace("\n", "\\n").replace(" ", "␣")
