"""label-issues: likely wrong labels, from out-of-fold predictions scored by confident learning.

First a quick model: on the profile's reservoir sample of train and val (at most 2 x 1,500 samples; flattened
inputs, 16x16 thumbnails for images; samples whose label is the ignore index left out), a standardized
logistic regression predicts every sample's class probabilities out of fold (scikit-learn's
`cross_val_predict`). When that linear model is too weak to judge (MNIST-1D: 32%, for a task made for convnets)
and the check runs on an Experiment (`nnrecipe check`, `run`, `audit SPEC`), the experiment's own model takes
its place: the reservoir's samples (at most 4,096 a split) are fetched from the datasets and cut into
`OWN_MODEL_FOLDS` stratified folds; a fresh model from the factory trains briefly on the other folds with the
experiment's optimizer, step and augmentation (`engine.loop.fit`; epochs by `--budget`), and predicts its own
fold. A data path (`nnrecipe audit PATH`) has no model, and keeps the linear one.

cleanlab's `find_label_issues` then flags the samples whose given label the model confidently disagrees with.
When the model barely beats the majority class its disagreements mean nothing, and the check says so and skips.

Artifacts: ``candidates`` — up to 16 dicts {sample, given, predicted, confidence, input} ranked by
self-confidence (lowest first), for a grid captioned "given / predicted"; ``flagged`` — every flagged sample
({split, index}), in the same order.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from nnrecipe.checks.base import CannotRun, DataCheck, Verdict, picture
from nnrecipe.checks.context import CheckContext, DataContext
from nnrecipe.checks.data.common import LISTED, Profile, profile_of, task_of

if TYPE_CHECKING:
    import torch

    from nnrecipe.experiment import Experiment

PER_SPLIT = 1500
FOLDS = 5
#: the experiment's own model: folds, and reservoir samples per split it is cross-validated on. Two folds:
#: on MNIST-1D a model trained on half the pool for twice the epochs predicts better, per second, than one
#: trained on three quarters (94% out of fold in 9 s against 91% in 14 s for four folds)
OWN_MODEL_FOLDS = 2
OWN_MODEL_PER_SPLIT = 4096
#: ... and the most input bytes fetched for it (fewer samples for large inputs)
OWN_MODEL_BYTES = 512 * 2**20
#: per budget: epochs each fold model trains for, and the most steps that may take (a large pool)
OWN_MODEL_BUDGET = {"quick": (8, 250), "default": (16, 500), "long": (32, 1200)}
#: at least this many steps, so that a small pool still trains (never past the experiment's planned steps)
OWN_MODEL_MIN_STEPS = 100


@dataclass(frozen=True)
class LabelIssuesThresholds:
    #: warn when confident learning flags at least this fraction of the sampled labels
    warn_fraction: float = 0.05
    #: the model must close this fraction of the gap between the majority class and perfect accuracy,
    #: out of fold, for its disagreements to count
    min_model_skill: float = 0.5
    #: fewer sampled labels than this cannot be judged
    min_samples: int = 100


@dataclass(frozen=True)
class LabelIssuesEvidence:
    #: labelled samples scored (of the classes with a sample in every fold), of the train and val samples read
    sampled: int
    of: int
    #: the accuracy of always predicting the most common sampled class
    majority_accuracy: float
    #: the model that predicts out of fold: "linear" (a quick logistic regression) or "experiment" (its own)
    model: str
    #: the experiment's own model: its folds, epochs and steps per fold model, and the --budget they follow
    folds: int | None = None
    epochs: int | None = None
    steps_per_fold: int | None = None
    budget: str | None = None
    #: with enough samples: the out-of-fold accuracy, the labels flagged, and the most doubtful (at most LISTED)
    model_accuracy: float | None = None
    issues: int | None = None
    fraction: float | None = None
    candidates: list[dict[str, Any]] | None = None
    #: the experiment's own model: the seconds its folds took, and what the linear model reached before
    seconds: float | None = None
    linear_accuracy: float | None = None
    #: the report's grid, "given / predicted" (up to 16, lowest confidence first), and every flagged sample
    candidate_pictures: list[dict[str, Any]] | None = picture()
    flagged: list[dict[str, Any]] | None = picture()


@dataclass(frozen=True)
class _Scores:
    """What confident learning found on out-of-fold probabilities."""

    model_accuracy: float
    issues: int
    fraction: float
    candidates: list[dict[str, Any]]
    candidate_pictures: list[dict[str, Any]]
    flagged: list[dict[str, Any]]


class LabelIssues(DataCheck[LabelIssuesEvidence, LabelIssuesThresholds]):
    """Likely wrong labels from out-of-fold predictions (cleanlab's confident learning)."""

    id = "label-issues"
    stage = "data"
    title = "Likely wrong labels (confident learning)"
    Thresholds = LabelIssuesThresholds

    def applies(self, ctx: DataContext) -> str | None:
        if task_of(ctx) != "classification":
            return f"confident learning scores class labels; a {task_of(ctx)} task has none"
        return None

    def measure(self, ctx: DataContext) -> LabelIssuesEvidence:
        p = profile_of(ctx)
        x, y, where, inputs = _sample(p, PER_SPLIT)
        keep = _classes_with(y, FOLDS)
        x, y, where, inputs = x[keep], y[keep], _pick(where, keep), _pick(inputs, keep)
        measured = LabelIssuesEvidence(sampled=int(len(y)), of=_labelled_pool(p), majority_accuracy=_majority(y),
                                       model="linear")
        if len(y) < self.thresholds.min_samples or len(np.unique(y)) < 2:
            return measured
        # cleanlab wants labels 0..K-1 matching the probability columns, whatever ids the classes carry
        classes, local = np.unique(y, return_inverse=True)
        probs = _out_of_fold(x, local, seed=int(ctx.seed or 0))
        measured = _with_scores(measured, _scored(y, classes, probs, where, inputs))
        if _skill(measured) < self.thresholds.min_model_skill and _has_model(ctx):
            own = _own_model(ctx, p, min_samples=self.thresholds.min_samples)
            return replace(own, linear_accuracy=measured.model_accuracy)
        return measured

    def pictures(self, e: LabelIssuesEvidence) -> dict[str, Any]:
        # the grid's `candidates` carry the inputs; the document's `candidates` name the samples only
        if e.flagged is None:
            return {}
        return {"candidates": e.candidate_pictures, "flagged": e.flagged}

    def judge(self, e: LabelIssuesEvidence, t: LabelIssuesThresholds) -> Verdict:
        if e.model_accuracy is None:
            return Verdict("skip", f"too few labelled samples to judge ({e.sampled} sampled)")
        own = e.model == "experiment"
        if _skill(e) < t.min_model_skill:
            return Verdict("skip", _too_weak(e))
        judge = (f"the experiment's model ({e.folds} folds x {e.epochs} epochs; a linear model reaches "
                 f"{e.linear_accuracy:.0%})" if own else "a quick model")
        text = (f"{e.issues} of {e.sampled} sampled labels ({e.fraction:.1%}) look wrong to {judge} "
                f"with {e.model_accuracy:.0%} out-of-fold accuracy")
        if e.fraction is not None and e.fraction >= t.warn_fraction:
            return Verdict("warn", text, "look at the candidates (given vs predicted label) and relabel the ones that "
                           "are wrong; a high rate points at a labelling process to fix, not single samples")
        return Verdict("pass", text)


def _too_weak(e: LabelIssuesEvidence) -> str:
    """Why the model's disagreements cannot point at wrong labels: its out-of-fold accuracy, against the baselines."""
    if e.model == "experiment":
        longer = "; --budget long trains it longer" if e.budget != "long" else ""
        return (f"the experiment's model, trained {e.epochs} epochs per fold, reaches only "
                f"{e.model_accuracy:.0%} out of fold (a linear model {e.linear_accuracy:.0%}, "
                f"the majority class {e.majority_accuracy:.0%}): too weak for its disagreements to "
                f"point at wrong labels{longer}")
    return (f"a quick linear model reaches only {e.model_accuracy:.0%} out of fold (majority "
            f"class {e.majority_accuracy:.0%}): too weak for its disagreements to point at wrong labels")


def _skill(e: LabelIssuesEvidence) -> float:
    """The share of the gap from the majority class to perfect accuracy the model closes, out of fold."""
    if e.model_accuracy is None:
        return float("nan")
    return float((e.model_accuracy - e.majority_accuracy) / max(1 - e.majority_accuracy, 1e-9))


def _with_scores(e: LabelIssuesEvidence, s: _Scores) -> LabelIssuesEvidence:
    return replace(e, model_accuracy=s.model_accuracy, issues=s.issues, fraction=s.fraction, candidates=s.candidates,
                   candidate_pictures=s.candidate_pictures, flagged=s.flagged)


def _labelled_pool(p: Profile) -> int:
    """The samples read in the splits the check samples from (train and val; test labels are never scored)."""
    return int(sum(sp.read for name, sp in p.splits.items() if name in ("train", "val")))


def _majority(y: np.ndarray) -> float:
    return float(np.bincount(y).max() / len(y)) if len(y) else 1.0


def _classes_with(y: np.ndarray, folds: int) -> np.ndarray:
    """The samples of the classes with at least one sample per fold (stratified folds need them)."""
    values, counts = np.unique(y, return_counts=True)
    return np.isin(y, values[counts >= folds])


def _pick(items: list[Any], keep: np.ndarray) -> list[Any]:
    return [items[i] for i in np.nonzero(keep)[0]]


def _scored(y: np.ndarray, classes: np.ndarray, probs: np.ndarray, where: list[dict[str, Any]],
            inputs: list[Any]) -> _Scores:
    """Confident learning on out-of-fold probabilities (n, K): y holds class ids, `classes` the id of each column."""
    from cleanlab.filter import find_label_issues

    local = np.searchsorted(classes, y)
    ranked = find_label_issues(local, probs, return_indices_ranked_by="self_confidence")
    predicted = classes[probs.argmax(1)]
    given_conf = probs[np.arange(len(y)), local]
    return _Scores(
        model_accuracy=float((predicted == y).mean()),
        issues=int(len(ranked)),
        fraction=float(len(ranked) / len(y)),
        candidates=[{**where[i], "given": int(y[i]), "predicted": int(predicted[i]),
                     "confidence_in_given": round(float(given_conf[i]), 3)} for i in ranked[:LISTED]],
        candidate_pictures=[{"sample": where[i], "given": int(y[i]), "predicted": int(predicted[i]),
                             "confidence": float(given_conf[i]), "input": inputs[i]} for i in ranked[:16]],
        flagged=[{"split": where[i]["split"], "index": where[i]["index"]} for i in ranked],
    )


def _sample(p: Profile, per_split: int) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]], list[Any]]:
    """The labelled reservoir samples of train and val (at most `per_split` each): flattened features, class ids,
    their names (split, index, path) and their pictures."""
    xs, ys, where, inputs = [], [], [], []
    for name in ("train", "val"):
        sp = p.splits.get(name)
        if sp is None or sp.reservoir is None:
            continue
        r = sp.reservoir
        for k in range(min(len(r.index), per_split)):
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


# --- the experiment's own model ------------------------------------------------------------------------------


def _has_model(ctx: DataContext) -> TypeGuard[CheckContext]:
    """An Experiment whose loss runs (a data path's AuditContext has no model)."""
    return isinstance(ctx, CheckContext) and ctx.blocked is None


def _own_model(ctx: CheckContext, p: Profile, *, min_samples: int) -> LabelIssuesEvidence:
    """Out-of-fold probabilities from brief trainings of the experiment's model on the reservoir's samples."""
    import torch

    started = time.perf_counter()
    exp = ctx.experiment
    _, _, where, inputs = _sample(p, _per_split(exp))
    x, targets = _fetch(exp, where)  # (n, ...), (n,): what the datasets yield, not the profile's features
    keep = _classes_with(targets.long().numpy(), OWN_MODEL_FOLDS)
    mask = torch.as_tensor(keep)
    x, targets, where, inputs = x[mask], targets[mask], _pick(where, keep), _pick(inputs, keep)
    y = targets.long().numpy()
    epochs, steps = _fold_budget(ctx, len(y) - len(y) // OWN_MODEL_FOLDS)
    measured = LabelIssuesEvidence(sampled=int(len(y)), of=_labelled_pool(p), majority_accuracy=_majority(y),
                                   model="experiment", folds=OWN_MODEL_FOLDS, epochs=epochs, steps_per_fold=steps,
                                   budget=ctx.budget)
    if len(y) < min_samples or len(np.unique(y)) < 2:
        return measured
    scores = _own_out_of_fold(ctx, x, targets, epochs=epochs, steps=steps)
    classes = np.unique(y)
    probs = _class_probabilities(scores, y, classes, ctx.num_classes)
    measured = _with_scores(measured, _scored(y, classes, probs, where, inputs))
    return replace(measured, seconds=round(time.perf_counter() - started, 2))


def _per_split(exp: Experiment) -> int:
    """Reservoir samples per split to fetch: OWN_MODEL_PER_SPLIT, fewer when the inputs are large."""
    from nnrecipe.engine.data import take

    x0, _ = take(exp.train, [0])
    return max(1, min(OWN_MODEL_PER_SPLIT, OWN_MODEL_BYTES // (2 * max(x0.element_size() * x0.numel(), 1))))


def _fetch(exp: Experiment, where: list[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The inputs and targets of the sampled positions, split by split, as the datasets yield them."""
    import torch

    from nnrecipe.engine.data import take

    xs, ys = [], []
    for split in ("train", "val"):
        positions = [w["index"] for w in where if w["split"] == split]
        if positions:
            x, y = take(getattr(exp, split), positions)
            xs.append(x)
            ys.append(y.reshape(len(positions)))
    return torch.cat(xs), torch.cat(ys)


def _fold_budget(ctx: CheckContext, fold_size: int) -> tuple[int, int]:
    """(epochs, steps) for one fold model: the budget's epochs, at least OWN_MODEL_MIN_STEPS steps, at most the
    budget's steps and never more than the experiment plans for its whole training."""
    exp = ctx.experiment
    epochs, most = OWN_MODEL_BUDGET.get(ctx.budget, OWN_MODEL_BUDGET["default"])
    per_epoch = math.ceil(fold_size / exp.batch_size)
    planned = exp.epochs * math.ceil(len(exp.train) / exp.batch_size)
    steps = min(max(epochs * per_epoch, OWN_MODEL_MIN_STEPS), most, planned)
    return math.ceil(steps / max(per_epoch, 1)), max(steps, 1)


def _own_out_of_fold(ctx: CheckContext, x: torch.Tensor, targets: torch.Tensor, *, epochs: int,
                     steps: int) -> torch.Tensor:
    """(n, outputs) scores: each sample's from the fold model that never trained on it. The folds train on the
    targets as the dataset yields them (their dtype, for the user's loss); they are stratified by class."""
    import torch
    from sklearn.model_selection import StratifiedKFold
    from torch.utils.data import TensorDataset

    from nnrecipe.engine.loop import fit, predict

    y = targets.long().numpy()
    folds = StratifiedKFold(n_splits=OWN_MODEL_FOLDS, shuffle=True, random_state=ctx.derive("label-issues", "folds"))
    scores: torch.Tensor | None = None
    for fold, (train_idx, held_idx) in enumerate(folds.split(np.zeros(len(y)), y)):
        model = ctx.fresh_model("label-issues", fold)
        fit(model, ctx.experiment, device=ctx.device, epochs=epochs, max_steps=steps,  # no evaluation: evaluate_on=None
            train=TensorDataset(x[train_idx], targets[train_idx]), seed=ctx.derive("label-issues", "fit", fold))
        held = torch.as_tensor(held_idx)
        out, _ = predict(model, TensorDataset(x[held], targets[held]), device=ctx.device)  # (n_fold, C)
        if scores is None:
            scores = torch.zeros((len(y), *out.shape[1:]))
        scores[held] = out.cpu()
    assert scores is not None  # two folds always hold samples
    return scores


def _class_probabilities(scores: torch.Tensor, y: np.ndarray, classes: np.ndarray,
                         num_classes: int | None) -> np.ndarray:
    """(n, K) probabilities over the sampled classes, from what the model outputs: logits, log-probabilities,
    probabilities, or one binary logit; renormalized over `classes` (the ones in the sample)."""
    import torch

    from nnrecipe.engine.outputs import output_space

    space = output_space(scores, "classification", num_classes)
    scores = torch.nan_to_num(scores.float(), nan=0.0, posinf=30.0, neginf=-30.0)
    if space == "binary-logit":
        p1 = torch.sigmoid(scores.reshape(-1))
        probs = torch.stack([1 - p1, p1], dim=1)
    elif space == "probabilities":
        probs = scores.clamp_min(0)
    else:
        probs = scores.softmax(-1)  # logits, or log-probabilities (softmax of a log-softmax is itself)
    if probs.dim() != 2 or probs.shape[1] <= int(classes.max()):
        raise CannotRun(f"the model's outputs have shape {tuple(scores.shape)}; confident learning needs one score "
                        f"per class for class ids up to {int(classes.max())}")
    picked = probs[:, torch.as_tensor(classes)].numpy().astype(np.float64)
    return picked / np.maximum(picked.sum(1, keepdims=True), 1e-12)  # type: ignore[no-any-return]
