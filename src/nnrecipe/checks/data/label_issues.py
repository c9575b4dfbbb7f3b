"""label-issues: likely wrong labels, from out-of-fold predictions of a quick model scored by confident learning.

On the profile's reservoir sample of train and val (at most 2 x 1,500 samples; flattened inputs, 16x16
thumbnails for images; samples whose label is the ignore index left out), a standardized logistic regression
predicts every sample's class probabilities out of fold (scikit-learn's `cross_val_predict`); cleanlab's
`find_label_issues` then flags the samples whose given label the model confidently disagrees with. When the
quick model barely beats the majority class its disagreements mean nothing, and the check says so and skips.

Artifacts: ``candidates`` — up to 16 dicts {sample, given, predicted, confidence, input} ranked by
self-confidence (lowest first), for a grid captioned "given / predicted".
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.data.common import LISTED, profile_of, task_of

PER_SPLIT = 1500
FOLDS = 5


@dataclass(frozen=True)
class LabelIssuesThresholds:
    #: warn when confident learning flags at least this fraction of the sampled labels
    warn_fraction: float = 0.05
    #: the quick model must close this fraction of the gap between the majority class and perfect accuracy,
    #: out of fold, for its disagreements to count
    min_model_skill: float = 0.5
    #: fewer sampled labels than this cannot be judged
    min_samples: int = 100


class LabelIssues(Check):
    """Likely wrong labels from out-of-fold predictions (cleanlab's confident learning)."""

    id = "label-issues"
    stage = "data"
    title = "Likely wrong labels (confident learning)"
    Thresholds = LabelIssuesThresholds

    def applies(self, ctx: CheckContext) -> str | None:
        if task_of(ctx) != "classification":
            return f"confident learning scores class labels; a {task_of(ctx)} task has none"
        return None

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        p = profile_of(ctx)
        x, y, where, inputs = _sample(p)
        keep = np.isin(y, [c for c, n in zip(*np.unique(y, return_counts=True), strict=False) if n >= FOLDS])
        x, y, inputs = x[keep], y[keep], [inputs[i] for i in np.nonzero(keep)[0]]
        where = [where[i] for i in np.nonzero(keep)[0]]
        majority = float(np.bincount(y).max() / len(y)) if len(y) else 1.0
        measured: dict[str, Any] = {"sampled": int(len(y)), "of": int(sum(sp.read for sp in p.splits.values())),
                                    "majority_accuracy": majority}
        if len(y) < self.thresholds.min_samples or len(np.unique(y)) < 2:
            return measured
        # cleanlab wants labels 0..K-1 matching the probability columns, whatever ids the classes carry
        classes, local = np.unique(y, return_inverse=True)
        probs = _out_of_fold(x, local, seed=int(getattr(ctx, "seed", 0) or 0))
        from cleanlab.filter import find_label_issues

        ranked = find_label_issues(local, probs, return_indices_ranked_by="self_confidence")
        predicted = classes[probs.argmax(1)]
        given_conf = probs[np.arange(len(y)), local]
        accuracy = float((predicted == y).mean())
        measured.update({
            "model_accuracy": accuracy,
            "issues": int(len(ranked)),
            "fraction": float(len(ranked) / len(y)),
            "candidates": [{**where[i], "given": int(y[i]), "predicted": int(predicted[i]),
                            "confidence_in_given": round(float(given_conf[i]), 3)} for i in ranked[:LISTED]],
            "_artifacts": {"candidates": [{"sample": where[i], "given": int(y[i]), "predicted": int(predicted[i]),
                                           "confidence": float(given_conf[i]), "input": inputs[i]} for i in ranked[:16]]},
        })
        return measured

    def judge(self, m: Mapping[str, Any], t: LabelIssuesThresholds) -> Verdict:
        if "model_accuracy" not in m:
            return Verdict("skip", f"too few labelled samples to judge ({m['sampled']} sampled)")
        skill = (m["model_accuracy"] - m["majority_accuracy"]) / max(1 - m["majority_accuracy"], 1e-9)
        if skill < t.min_model_skill:
            return Verdict("skip", f"a quick linear model reaches only {m['model_accuracy']:.0%} out of fold (majority "
                           f"class {m['majority_accuracy']:.0%}): too weak for its disagreements to point at wrong labels")
        text = (f"{m['issues']} of {m['sampled']} sampled labels ({m['fraction']:.1%}) look wrong to a quick model "
                f"with {m['model_accuracy']:.0%} out-of-fold accuracy")
        if m["fraction"] >= t.warn_fraction:
            return Verdict("warn", text, "look at the candidates (given vs predicted label) and relabel the ones that "
                           "are wrong; a high rate points at a labelling process to fix, not single samples")
        return Verdict("pass", text)


def _sample(p: Any) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]], list[Any]]:
    xs, ys, where, inputs = [], [], [], []
    for name in ("train", "val"):
        sp = p.splits.get(name)
        if sp is None or sp.reservoir is None:
            continue
        r = sp.reservoir
        for k in range(min(len(r.index), PER_SPLIT)):
            label = int(np.asarray(r.targets[k]))
            if label < 0 or label == p.data.ignore_index:
                continue  # unlabelled (the ignore index): nothing to be wrong about
            xs.append(np.asarray(r.features[k], dtype=np.float32).reshape(-1))
            ys.append(label)
            entry: dict[str, Any] = {"split": name, "index": r.index[k]}
            if r.paths[k]:
                entry["path"] = r.paths[k]
            where.append(entry)
            inputs.append(r.pictures[k])
    if not xs:
        return np.zeros((0, 1), np.float32), np.zeros(0, np.int64), [], []
    return np.stack(xs), np.asarray(ys, dtype=np.int64), where, inputs


def _out_of_fold(x: np.ndarray, y: np.ndarray, *, seed: int) -> np.ndarray:
    """(n, K) out-of-fold class probabilities; y holds 0..K-1."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=100))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed % (2**31))
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    # One BLAS thread: these small solves gain nothing from threads, and beside a busy torch pool
    # oversubscribed OpenBLAS threads made them ~100x slower here (29 s against 0.3 s on digits).
    with warnings.catch_warnings(), threadpool_limits(1):
        # a quick model stopped early is still a fair judge of confident disagreement; no noise for the user
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cross_val_predict(model, x, y, cv=folds, method="predict_proba")  # type: ignore[no-any-return]
