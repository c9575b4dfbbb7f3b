"""target-leakage: one input feature (or a trivial function of it) that predicts the target almost perfectly.

On the profile's reservoir samples, every feature alone is turned into the simplest predictors there are: its
values cut into at most 32 quantile bins (or its distinct values, when few) learned on train, each bin
predicting its majority class (classification) or its mean target (regression); and the target of the nearest
train value (1-NN on that one feature, which follows any locally constant function of it). The better one counts. A feature whose predictor is
almost perfect on train *and* val is the label in disguise — an id column sorted by class, a "days since
diagnosis" field, a pixel stamped by the labelling tool — or the task is trivial; either way training a net on
it is the wrong next step. Images are judged on their 16x16 thumbnail's pixels.

Artifacts: ``scores`` — (features,) array of each feature's val score — and ``best`` {feature, train, val}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.data.common import profile_of, task_of

BINS = 32


@dataclass(frozen=True)
class TargetLeakageThresholds:
    #: fail when one feature's predictor closes this fraction of the gap from the baseline (majority class,
    #: or the mean for regression: R^2) to perfect, on train and on val
    fail_skill: float = 0.98
    #: warn from this skill
    warn_skill: float = 0.9
    #: fewer sampled val (or train) samples than this cannot be judged
    min_samples: int = 50


class TargetLeakage(Check):
    """A single feature, or a trivial function of one, predicting the target almost perfectly."""

    id = "target-leakage"
    stage = "data"
    title = "One feature predicts the target"
    Thresholds = TargetLeakageThresholds

    def applies(self, ctx: CheckContext) -> str | None:
        p = profile_of(ctx)
        if task_of(ctx) == "sequence":
            return "next-token targets are the inputs shifted by design; see sequence-alignment"
        if "train" not in p.splits or len(p.splits) < 2:
            return "needs a train and a held-out split to tell a leak from overfitting"
        return None

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        p = profile_of(ctx)
        held = "val" if "val" in p.splits else next(n for n in p.splits if n != "train")
        (xt, yt), (xv, yv) = _reservoir(p, "train"), _reservoir(p, held)
        classification = p.data.task == "classification"
        measured: dict[str, Any] = {"held_out": held, "train_samples": len(yt), "held_out_samples": len(yv)}
        if min(len(yt), len(yv)) < self.thresholds.min_samples:
            return measured
        train_scores, val_scores = np.zeros(xt.shape[1]), np.zeros(xt.shape[1])
        for j in range(xt.shape[1]):
            train_scores[j], val_scores[j] = _feature_skill(xt[:, j], yt, xv[:, j], yv, classification)
        worst = np.minimum(train_scores, val_scores)
        order = np.argsort(-worst)
        names = list(p.data.feature_names or [])
        top = [{"feature": names[j] if j < len(names) else int(j), "train": round(float(train_scores[j]), 4),
                "val": round(float(val_scores[j]), 4)} for j in order[:5]]
        measured.update({"top_features": top, "best": top[0],
                         "_artifacts": {"scores": val_scores, "best": top[0]}})
        return measured

    def judge(self, m: Mapping[str, Any], t: TargetLeakageThresholds) -> Verdict:
        if "best" not in m:
            return Verdict("skip", f"too few samples to judge ({m['train_samples']} train, {m['held_out_samples']} "
                           f"{m['held_out']})")
        best = m["best"]
        skill = min(best["train"], best["val"])
        text = (f"feature {best['feature']} alone predicts the target with skill {best['train']:.3f} on train and "
                f"{best['val']:.3f} on {m['held_out']} (1 = perfect, 0 = baseline)")
        fix = ("find out what this feature is: if it is derived from the label or recorded after it (an id sorted "
               "by class, a stamp from the labelling tool), drop it; if it is genuinely available, the task needs "
               "no neural net")
        if skill >= t.fail_skill:
            return Verdict("fail", text, fix)
        if skill >= t.warn_skill:
            return Verdict("warn", text, fix)
        return Verdict("pass", f"no single feature predicts the target (best: {text})")


def _reservoir(p: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
    r = p.splits[split].reservoir
    if r is None or not r.index:
        return np.zeros((0, 1)), np.zeros(0)
    x = np.stack([np.asarray(f, dtype=np.float64).reshape(-1) for f in r.features])
    y = np.asarray([np.asarray(t, dtype=np.float64).mean() for t in r.targets])
    return np.nan_to_num(x), y


def _feature_skill(xt: np.ndarray, yt: np.ndarray, xv: np.ndarray, yv: np.ndarray,
                   classification: bool) -> tuple[float, float]:
    """The better of two one-feature predictors (binned lookup, nearest train value), on train and on val."""
    binned = _binned_skill(xt, yt, xv, yv, classification)
    nearest = _nearest_skill(xt, yt, xv, yv, classification)
    return max(binned[0], nearest[0]), max(binned[1], nearest[1])


def _nearest_skill(xt: np.ndarray, yt: np.ndarray, xv: np.ndarray, yv: np.ndarray,
                   classification: bool) -> tuple[float, float]:
    """1-nearest-neighbour on the one feature: any locally constant function of it, gaps included."""
    order = np.argsort(xt, kind="stable")
    xs, ys = xt[order], yt[order]
    # train: each sample's closer sorted neighbour (never itself), so the score is out of sample
    left = np.r_[np.inf, np.diff(xs)]
    right = np.r_[np.diff(xs), np.inf]
    pick = np.where(left <= right, np.arange(len(xs)) - 1, np.arange(len(xs)) + 1).clip(0, len(xs) - 1)
    pos = np.searchsorted(xs, xv).clip(1, len(xs) - 1)
    val_pick = np.where(np.abs(xv - xs[pos - 1]) <= np.abs(xs[pos] - xv), pos - 1, pos)
    if classification:
        base = np.bincount(yt.astype(np.int64)).argmax()
        return _accuracy_skill(ys[pick], ys, base), _accuracy_skill(ys[val_pick], yv, base)
    return _r2(ys[pick], ys, yt.mean()), _r2(ys[val_pick], yv, yt.mean())


def _binned_skill(xt: np.ndarray, yt: np.ndarray, xv: np.ndarray, yv: np.ndarray,
                  classification: bool) -> tuple[float, float]:
    """Skill of a binned-lookup predictor fit on train, on train and on val (0 = baseline, 1 = perfect)."""
    values = np.unique(xt)
    if len(values) <= BINS:
        edges = (values[1:] + values[:-1]) / 2
    else:
        edges = np.unique(np.quantile(xt, np.linspace(0, 1, BINS + 1)[1:-1]))
    bt, bv = np.searchsorted(edges, xt), np.searchsorted(edges, xv)
    bins = len(edges) + 1
    if classification:
        labels = yt.astype(np.int64)
        table = np.zeros((bins, int(labels.max()) + 1))
        np.add.at(table, (bt, labels), 1)
        lookup, base = table.argmax(1), np.bincount(labels).argmax()
        return (_accuracy_skill(lookup[bt], yt, base), _accuracy_skill(lookup[bv], yv, base))
    sums, counts = np.bincount(bt, yt, minlength=bins), np.bincount(bt, minlength=bins)
    lookup = np.where(counts > 0, sums / np.maximum(counts, 1), yt.mean())
    return _r2(lookup[bt], yt, yt.mean()), _r2(lookup[bv], yv, yt.mean())


def _accuracy_skill(pred: np.ndarray, y: np.ndarray, base: Any) -> float:
    acc, base_acc = float((pred == y).mean()), float((y == base).mean())
    return (acc - base_acc) / max(1 - base_acc, 1e-9)


def _r2(pred: np.ndarray, y: np.ndarray, mean: float) -> float:
    total = float(((y - mean) ** 2).sum())
    return 1 - float(((y - pred) ** 2).sum()) / total if total > 0 else 0.0
