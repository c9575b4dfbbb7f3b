"""dumb-baselines: the majority class (or the mean) and, for flat inputs, a linear model, on validation.

They are the floor every result is read against. The short run of the real model must beat the majority
baseline; the linear model is reported beside it (a short run need not beat it yet).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.checks.skeleton._common import majority_scores
from nnrecipe.checks.skeleton.short_run import shared_short_run_scores, val_subset
from nnrecipe.engine.data import all_targets, take

#: the linear baseline is fitted on at most this many training samples of at most this many features
LINEAR_SAMPLES = 4000
LINEAR_FEATURES = 4096


@dataclass(frozen=True)
class DumbBaselinesThresholds:
    #: the short run beats the majority baseline when its validation loss is below this fraction of the
    #: baseline's, or (for an overconfident model whose loss is high) its accuracy is above chance (the best
    #: constant guess on the validation labels) by this many standard errors of a chance-level score on as many
    #: validation samples: beyond sampling noise.
    #: A sample's accuracy (over its tokens, for sequences) varies at most as one Bernoulli draw, so the
    #: standard error sqrt(p(1-p)/samples) holds however correlated the tokens of one sequence are.
    loss_ratio: float = 0.98
    accuracy_z: float = 4.0


@dataclass(frozen=True)
class DumbBaselinesEvidence:
    task: str
    #: the validation scores of the majority class / the prior (the mean, for regression): accuracy, loss and the
    #: best constant guess's accuracy (mse, mae and loss)
    majority: dict[str, float]
    #: the linear model's validation accuracy (mse); None (shown as null) when the inputs are not flat numbers
    linear: dict[str, float] | None
    #: the short-run model's validation loss and metrics
    short_run: dict[str, float]
    #: the validation samples scored
    samples: int


def _linear_baseline(ctx: ModelContext) -> dict[str, float] | None:
    """A linear model (sklearn ridge regression / ridge classifier) on flattened float inputs; None when the inputs are not flat numbers."""
    exp = ctx.experiment
    if exp.task == "sequence":
        return None
    n = min(len(exp.train), LINEAR_SAMPLES)
    gen = torch.Generator().manual_seed(ctx.derive("linear-baseline"))
    x, y = take(exp.train, torch.randperm(len(exp.train), generator=gen)[:n])
    vx, vy = take(val_subset(ctx), torch.arange(len(val_subset(ctx))))
    if not x.is_floating_point() or x[0].numel() > LINEAR_FEATURES:
        return None
    if not (bool(torch.isfinite(x).all()) and bool(torch.isfinite(vx).all())):
        return None
    xs, vxs = x.reshape(len(x), -1).double().numpy(), vx.reshape(len(vx), -1).double().numpy()
    from sklearn.linear_model import Ridge, RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter: a baseline needs no perfect fit
        if exp.task == "regression":
            ridge = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(xs, y.reshape(len(y), -1).numpy())
            pred = torch.as_tensor(ridge.predict(vxs)).reshape(vy.shape).float()
            return {"mse": float(((pred - vy.float()) ** 2).mean())}
        clf = make_pipeline(StandardScaler(), RidgeClassifier(alpha=1.0)).fit(xs, y.numpy())
        return {"accuracy": float((torch.as_tensor(clf.predict(vxs)) == vy).double().mean())}


def _chance_accuracy(e: DumbBaselinesEvidence) -> float:
    """What an input-free model may score by luck: the majority class, or the validation set's own most frequent
    class (a model that learned nothing can land on it)."""
    return max(e.majority["accuracy"], e.majority.get("best_constant_accuracy", 0.0))


def _chance_error(e: DumbBaselinesEvidence) -> float:
    """The standard error of a chance-level accuracy over the validation samples."""
    p = min(max(_chance_accuracy(e), 1e-3), 1 - 1e-3)
    return math.sqrt(p * (1 - p) / max(int(e.samples), 1))


class DumbBaselines(ModelCheck[DumbBaselinesEvidence, DumbBaselinesThresholds]):
    id = "dumb-baselines"
    stage = "skeleton"
    title = "Dumb baselines (majority / mean, linear) and the short run against them"
    Thresholds = DumbBaselinesThresholds

    def measure(self, ctx: ModelContext) -> DumbBaselinesEvidence:
        val = val_subset(ctx)
        targets = all_targets(val)
        majority = majority_scores(all_targets(ctx.experiment.train), targets, ctx.task, ctx.num_classes,
                                   ctx.ignore_index)
        return DumbBaselinesEvidence(task=ctx.task, majority=majority, linear=_linear_baseline(ctx),
                                     short_run=shared_short_run_scores(ctx), samples=len(val))

    def judge(self, e: DumbBaselinesEvidence, t: DumbBaselinesThresholds) -> Verdict:
        major, run, linear = e.majority, e.short_run, e.linear
        regression = e.task == "regression"
        metric = "mse" if regression else "accuracy"
        beats_loss = run["loss"] < t.loss_ratio * major["loss"]
        beats_acc = not regression and run["accuracy"] > _chance_accuracy(e) + t.accuracy_z * _chance_error(e)
        name = "mean predictor" if regression else "majority class"
        text = (f"short run: val {metric} {run[metric]:.4g}, loss {run['loss']:.4g}; {name}: {metric} "
                f"{major[metric]:.4g}, loss {major['loss']:.4g}")
        if linear is not None:
            text += f"; linear model: {metric} {linear[metric]:.4g}"
        if beats_loss or beats_acc:
            return Verdict("pass", text)
        noise = "" if regression else (f"; chance accuracy {_chance_accuracy(e):.4g} +- {_chance_error(e):.2g} on "
                                       f"{e.samples} samples")
        return Verdict("fail", f"the short run does not beat the {name} beyond noise ({text}{noise})",
                           "the model does no better than ignoring its input: check that labels stay paired with "
                           "their inputs, that the loss and learning rate let it learn (see loss-decreases), and "
                           "that validation data is preprocessed like training data")
