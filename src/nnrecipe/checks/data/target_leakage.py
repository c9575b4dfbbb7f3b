"""target-leakage: one input feature that is the target in disguise — the label id, or a copy of the target.

On the profile's reservoir samples (every split pooled, unlabelled samples left out), every feature alone is
turned into the simplest predictors there are: its values cut into at most 32 quantile bins (or its distinct
values, when few), each bin predicting its majority class (classification) or its mean target (regression);
and the class of the nearest value (1-NN on that one feature, which follows any locally constant function of
it), or for regression the line between the two nearest values (any continuous function of it). The better one
counts, scored out of fold (5 folds over every split's samples pooled), so a lookup never grades itself and a
single split is judged as well as several. When train and a held-out split both hold `min_samples` samples,
the score on that split of the predictors fit on train is reported too.

Skill is the share of the gap from the baseline (the majority class, or the mean: R^2) to perfect that a
feature closes. A leak is a column made from the target: the label id itself, an id sorted by class, the
target plus noise a few percent of its spread, the target in other units. What it is not:

- a strong but imperfect predictor (a measurement that separates most classes; y = f(x) + noise a tenth of its
  spread) passes with its score in the summary: skill below `warn_skill` (0.99).
- a feature the target is a *function* of (a regression that fits a known curve, y = a polynomial of x, noise
  free): a lookup on that feature predicts the target perfectly, yet the target is what the model must learn
  from it. A copy of a target is an affine copy — target + noise, k * target + c — so for regression the leak
  score is the feature's linear agreement with the target (r^2), and perfect nonlinear determination passes
  with a note. (A nonlinear copy, log(target), cannot be told from a curve to fit.)

Classes have no order, so for classification the lookup skill itself is the leak score: a feature that
determines the class near-perfectly is the label in disguise, or a task no net is needed for.

A per-sample vector target (a regression over steps) is judged for being the input itself (target == input
position by position, as in next-step prediction with the shift forgotten): the shifted target of next-step
prediction is the task, and its mean is of course predicted by the inputs. Images are judged on their 16x16
thumbnail's pixels.

Artifacts: ``scores`` — (features,) array of each feature's leak score — and ``best`` {feature, score, ...}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from nnrecipe.checks.base import DataCheck, Verdict, picture, picture_fields
from nnrecipe.checks.context import DataContext
from nnrecipe.checks.data.common import Profile, profile_of, task_of

BINS = 32
FOLDS = 5
#: most reservoir samples pooled for the per-feature predictors
POOLED = 8192


@dataclass(frozen=True)
class TargetLeakageThresholds:
    #: fail when one feature's leak score reaches this: its lookup skill out of fold (classification), or its
    #: linear r^2 with the target (regression: an affine copy, noise under 7% of the target's spread)
    fail_skill: float = 0.995
    #: warn from this score: almost a copy
    warn_skill: float = 0.99
    #: vector targets: fail when this share of samples has the target equal to the input, position by position
    copied_fail: float = 0.99
    #: fewer labelled samples than this cannot be judged (and a held-out split this small is not scored apart)
    min_samples: int = 50


class _Score(TypedDict):
    feature: str | int
    score: float
    skill: float
    equal: float


class FeatureScore(_Score, total=False):
    """One feature alone as a predictor: its leak score, its out-of-fold lookup skill, the share of samples where
    it equals the target; for regression its linear r^2, and the skill on the held-out split fit on train."""

    r2: float
    held_out: float


@dataclass(frozen=True)
class TargetLeakageEvidence:
    #: labelled reservoir samples pooled, the task, and the split scored apart from the folds (None: none)
    samples: int
    task: str
    held_out: str | None
    #: vector targets: the share of samples whose target equals their input, position by position
    target_is_input: float | None = None
    #: the five features with the highest leak score, the highest (best), and the one with the highest skill
    top_features: list[FeatureScore] | None = None
    best: FeatureScore | None = None
    strongest: FeatureScore | None = None
    #: the report's bars: (features,) leak score of every feature
    scores: np.ndarray | None = picture()


class TargetLeakage(DataCheck[TargetLeakageEvidence, TargetLeakageThresholds]):
    """A single feature equal to the target or a trivial function of it."""

    id = "target-leakage"
    stage = "data"
    title = "One feature predicts the target"
    Thresholds = TargetLeakageThresholds

    def applies(self, ctx: DataContext) -> str | None:
        if task_of(ctx) == "sequence":
            return "next-token targets are the inputs shifted by design; see sequence-alignment"
        return None

    def measure(self, ctx: DataContext) -> TargetLeakageEvidence:
        p = profile_of(ctx)
        seed = int(ctx.seed or 0)
        x, y, targets, split = _pooled(p, seed=seed)
        classification = p.data.task == "classification"
        held = _held_out(split, p.split_names, self.thresholds.min_samples)
        measured = TargetLeakageEvidence(samples=int(len(y)), task=p.data.task,
                                         held_out=p.split_names[held] if held is not None else None)
        if len(y) < self.thresholds.min_samples or len(np.unique(y)) < 2:
            return measured
        if any(len(t) > 1 for t in targets):
            return TargetLeakageEvidence(samples=measured.samples, task=measured.task, held_out=measured.held_out,
                                         target_is_input=_copied_inputs(targets, x))
        skill, transfer, r2 = _feature_scores(x, y, split, held, classification, seed=seed)
        score = skill if classification else r2
        names = list(p.data.feature_names or [])
        top = [_describe(names, j, score, skill, transfer, x[:, j], y, classification) for j in np.argsort(-score)[:5]]
        j = int(np.argmax(skill))
        strongest = _describe(names, j, score, skill, transfer, x[:, j], y, classification)
        return TargetLeakageEvidence(samples=measured.samples, task=measured.task, held_out=measured.held_out,
                                     top_features=top, best=top[0], strongest=strongest, scores=score)

    def pictures(self, e: TargetLeakageEvidence) -> dict[str, Any]:
        # `best` is in the document too: the report reads it beside the scores
        return {**picture_fields(e), "best": e.best} if e.scores is not None else {}

    def judge(self, e: TargetLeakageEvidence, t: TargetLeakageThresholds) -> Verdict:
        fix = ("find out what this feature is: if it is derived from the label or recorded after it (an id sorted "
               "by class, a stamp from the labelling tool, the target itself), drop it; if it is genuinely available "
               "at prediction time, the task needs no neural net")
        if e.target_is_input is not None:
            return _judge_copied(e.target_is_input, e.samples, t)
        if e.best is None or e.strongest is None:
            return Verdict("skip", f"too few labelled samples to judge ({e.samples} sampled)")
        best, strongest = e.best, e.strongest
        text = _text(best, e)
        if best["score"] >= t.fail_skill:
            return Verdict("fail", f"the target leaks into the inputs: {text}", fix)
        if best["score"] >= t.warn_skill:
            return Verdict("warn", f"one feature almost copies the target: {text}", fix)
        if e.task != "classification" and strongest["skill"] >= t.warn_skill:
            return Verdict("pass", f"feature {strongest['feature']} determines the target (lookup skill "
                           f"{strongest['skill']:.4f}) but is no copy of it (linear r^2 {strongest['r2']:.3f}): a "
                           "function of it for the model to learn")
        return Verdict("pass", f"no feature is the target in disguise (strongest: {_text(strongest, e)})")


def _judge_copied(copied: float, samples: int, t: TargetLeakageThresholds) -> Verdict:
    """A vector target: a fail when it is the input itself for (nearly) every sample."""
    if copied >= t.copied_fail:
        return Verdict("fail", f"the target is the input: target == input at every position for {copied:.0%} "
                       f"of {samples} sampled samples", "make the target what is to be predicted (for "
                       "next-step prediction: input = series[:, :-1], target = series[:, 1:]); only an "
                       "autoencoder reconstructs its input by design")
    return Verdict("pass", f"per-step targets differ from the inputs ({copied:.0%} of samples equal them)")


def _feature_scores(x: np.ndarray, y: np.ndarray, split: np.ndarray, held: int | None, classification: bool, *,
                    seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per feature: out-of-fold lookup skill, skill on the held-out split fit on train (NaN: none), linear r^2."""
    fold = np.random.default_rng([seed, 5]).permutation(len(y)) % FOLDS
    folds = [(np.nonzero(fold != k)[0], np.nonzero(fold == k)[0]) for k in range(FOLDS)]
    train, other = split == 0, split == held
    skill, transfer, r2 = np.zeros(x.shape[1]), np.full(x.shape[1], np.nan), np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        skill[j] = _out_of_fold_skill(x[:, j], y, folds, classification)
        r2[j] = 0.0 if classification else _linear_r2(x[:, j], y)
        if held is not None:
            transfer[j] = _skill(x[train, j], y[train], x[other, j], y[other], classification)
    return skill, transfer, r2


def _pooled(p: Profile, *, seed: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """Every split's labelled reservoir samples: (n, f) features, (n,) target summaries (the mean of a vector
    target), the targets themselves, and (n,) split codes."""
    xs, ys, full, codes = [], [], [], []
    ignore = p.data.ignore_index
    for code, name in enumerate(p.split_names):
        r = p.splits[name].reservoir
        if r is None:
            continue
        for features, target in zip(r.features, r.targets, strict=False):
            t = np.asarray(target, dtype=np.float64).reshape(-1)
            t = t[t != ignore] if ignore is not None else t
            if len(t) == 0 or (p.data.task == "classification" and t[0] < 0):
                continue  # unlabelled: the ignore index, or padding
            xs.append(np.asarray(features, dtype=np.float64).reshape(-1))
            ys.append(t.mean())
            full.append(t)
            codes.append(code)
    if not xs:
        return np.zeros((0, 1)), np.zeros(0), [], np.zeros(0, np.int64)
    x, y, split = np.nan_to_num(np.stack(xs)), np.asarray(ys), np.asarray(codes, dtype=np.int64)
    if len(y) > POOLED:
        keep = np.sort(np.random.default_rng([seed, 9]).choice(len(y), POOLED, replace=False))
        x, y, split, full = x[keep], y[keep], split[keep], [full[i] for i in keep]
    return x, y, full, split


def _copied_inputs(targets: list[np.ndarray], x: np.ndarray) -> float:
    """The share of samples whose (vector) target equals their input, position by position."""
    same = [len(t) == x.shape[1] and bool(np.allclose(t, row, rtol=1e-5, atol=1e-6 * (np.abs(row).max() + 1)))
            for t, row in zip(targets, x, strict=False)]
    return float(np.mean(same)) if same else 0.0


def _linear_r2(feature: np.ndarray, y: np.ndarray) -> float:
    """The squared correlation: how well an affine map of the feature (k * x + c) gives the target."""
    if feature.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(feature, y)[0, 1] ** 2)


def _text(entry: FeatureScore, e: TargetLeakageEvidence) -> str:
    where = f"; {entry['held_out']:.4f} on {e.held_out} fit on train" if "held_out" in entry else ""
    equal = f", and equals it on {entry['equal']:.0%} of samples" if entry["equal"] >= 0.5 else ""
    copy = "" if e.task == "classification" else f", linear r^2 {entry['r2']:.4f}"
    return (f"feature {entry['feature']} alone predicts the target with skill {entry['skill']:.4f} out of fold "
            f"(1 = perfect, 0 = baseline{where}{copy}){equal}")


def _held_out(split: np.ndarray, names: list[str], least: int) -> int | None:
    """The held-out split scored apart from the folds: val if large enough, else the largest other split."""
    counts = {c: int((split == c).sum()) for c in range(1, len(names))}
    if int((split == 0).sum()) < least:
        return None
    order = sorted(counts, key=lambda c: (names[c] != "val", -counts[c]))
    return next((c for c in order if counts[c] >= least), None)


def _describe(names: list[str], j: int, score: np.ndarray, skill: np.ndarray, transfer: np.ndarray,
              feature: np.ndarray, y: np.ndarray, classification: bool) -> FeatureScore:
    equal = feature == y if classification else np.abs(feature - y) <= 1e-6 * (np.abs(y) + 1)
    out: FeatureScore = {"feature": names[j] if j < len(names) else int(j), "score": round(float(score[j]), 4),
           "skill": round(float(skill[j]), 4), "equal": round(float(equal.mean()), 4)}
    if not classification:
        out["r2"] = round(_linear_r2(feature, y), 4)
    if not np.isnan(transfer[j]):
        out["held_out"] = round(float(transfer[j]), 4)
    return out


def _out_of_fold_skill(x: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                       classification: bool) -> float:
    """The better predictor's skill, every sample predicted by predictors fit on the other folds."""
    binned, nearest = np.zeros(len(y)), np.zeros(len(y))
    for fit, test in folds:
        binned[test] = _binned(x[fit], y[fit], x[test], classification)
        nearest[test] = _nearest(x[fit], y[fit], x[test], classification)
    return max(_score(binned, y, y, classification), _score(nearest, y, y, classification))


def _skill(xt: np.ndarray, yt: np.ndarray, xv: np.ndarray, yv: np.ndarray, classification: bool) -> float:
    """The better predictor's skill on (xv, yv), fit on (xt, yt)."""
    return max(_score(_binned(xt, yt, xv, classification), yv, yt, classification),
               _score(_nearest(xt, yt, xv, classification), yv, yt, classification))


def _nearest(xt: np.ndarray, yt: np.ndarray, xq: np.ndarray, classification: bool) -> np.ndarray:
    """The class of the nearest fitted value (1-NN on one feature: any locally constant function of it); for
    regression the line between the two nearest values (any continuous function of it, steep ones too)."""
    if not classification:
        values, inverse = np.unique(xt, return_inverse=True)
        means = np.bincount(inverse, yt) / np.bincount(inverse)
        return np.interp(xq, values, means)  # type: ignore[no-any-return]
    order = np.argsort(xt, kind="stable")
    xs, ys = xt[order], yt[order]
    pos = np.searchsorted(xs, xq).clip(1, max(len(xs) - 1, 1))
    if len(xs) == 1:
        return np.full(len(xq), ys[0])
    pick = np.where(np.abs(xq - xs[pos - 1]) <= np.abs(xs[pos] - xq), pos - 1, pos)
    return ys[pick]  # type: ignore[no-any-return]


def _binned(xt: np.ndarray, yt: np.ndarray, xq: np.ndarray, classification: bool) -> np.ndarray:
    """A lookup of the feature's quantile bin (or distinct value): its majority class, or its mean target."""
    values = np.unique(xt)
    if len(values) <= BINS:
        edges = (values[1:] + values[:-1]) / 2
    else:
        edges = np.unique(np.quantile(xt, np.linspace(0, 1, BINS + 1)[1:-1]))
    bt, bq = np.searchsorted(edges, xt), np.searchsorted(edges, xq)
    bins = len(edges) + 1
    if classification:
        labels = yt.astype(np.int64)
        classes = int(labels.max()) + 1
        table = np.bincount(bt * classes + labels, minlength=bins * classes).reshape(bins, classes)
        filled = table.sum(1) > 0
        lookup = np.where(filled, table.argmax(1), np.bincount(labels).argmax())
        return lookup[bq].astype(np.float64)  # type: ignore[no-any-return]
    sums, counts = np.bincount(bt, yt, minlength=bins), np.bincount(bt, minlength=bins)
    lookup = np.where(counts > 0, sums / np.maximum(counts, 1), yt.mean())
    return lookup[bq]  # type: ignore[no-any-return]


def _score(pred: np.ndarray, y: np.ndarray, fitted_on: np.ndarray, classification: bool) -> float:
    """0 = the baseline fit on `fitted_on` (majority class, or mean), 1 = perfect."""
    if classification:
        base = np.bincount(fitted_on.astype(np.int64)).argmax()
        acc, base_acc = float((pred == y).mean()), float((y == base).mean())
        return (acc - base_acc) / max(1 - base_acc, 1e-9)
    total = float(((y - fitted_on.mean()) ** 2).sum())
    return 1 - float(((y - pred) ** 2).sum()) / total if total > 0 else 0.0
