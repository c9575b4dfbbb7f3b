"""augment-consistency: an augmentation must keep what the label means.

A model trained briefly on un-augmented data (the shared short run) scores augmented samples against their
augmented targets. An augmentation costs it some skill; one that changes what the label means (flipping an
image without flipping a left/right label, a crop that cuts the object away, noise that swamps the signal)
costs it all of it, or worse: the model then scores at or below the baseline that ignores the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.checks.skeleton._common import majority_scores
from nnrecipe.checks.skeleton.short_run import shared_short_run
from nnrecipe.engine.data import all_targets, collate
from nnrecipe.engine.loop import accuracy, mode
from nnrecipe.engine.outputs import forward

SAMPLES = 512


@dataclass(frozen=True)
class AugmentConsistencyThresholds:
    #: the share of the model's skill above the input-free baseline kept on augmented samples:
    #: fail below `fail_kept`, warn below `warn_kept`
    fail_kept: float = 0.1
    warn_kept: float = 0.4
    #: judge only when the short run has at least this much skill on clean samples (accuracy points above
    #: the baseline, or R^2)
    min_skill: float = 0.15


def _score(out: torch.Tensor, y: torch.Tensor, task: str) -> float:
    if task == "regression":
        return float(((out.reshape(y.shape).float() - y.float()) ** 2).mean())
    return accuracy(out, y)


@dataclass(frozen=True)
class AugmentConsistencyEvidence:
    #: "accuracy", or "mse" for regression
    metric: str
    #: the short-run model's score on clean training samples and on the same samples augmented
    clean: float
    augmented: float
    #: the score of a predictor that ignores its input (the majority class, or the mean)
    input_free_baseline: float


class AugmentConsistency(ModelCheck[AugmentConsistencyEvidence, AugmentConsistencyThresholds]):
    id = "augment-consistency"
    stage = "skeleton"
    title = "Augmentation keeps the label's meaning"
    Thresholds = AugmentConsistencyThresholds

    def applies(self, ctx: ModelContext) -> str | None:
        return None if ctx.experiment.augment is not None else "no augment set"

    def measure(self, ctx: ModelContext) -> AugmentConsistencyEvidence:
        augment = ctx.experiment.augment
        assert augment is not None
        x, y = ctx.batch(SAMPLES, "train", "augment-consistency")
        xa, ya = collate([augment(x[i].cpu(), y[i].cpu()) for i in range(len(y))])
        model = shared_short_run(ctx).model
        with torch.no_grad(), mode(model, False):
            clean = _score(forward(model, x), y, ctx.task)
            augmented = _score(forward(model, xa.to(ctx.device)), ya.to(ctx.device), ctx.task)
        base = majority_scores(all_targets(ctx.experiment.train), y.cpu(), ctx.task, ctx.num_classes, ctx.ignore_index)
        baseline = base["mse"] if ctx.task == "regression" else base["accuracy"]
        return AugmentConsistencyEvidence(metric="mse" if ctx.task == "regression" else "accuracy", clean=clean,
                                          augmented=augmented, input_free_baseline=baseline)

    def judge(self, e: AugmentConsistencyEvidence, t: AugmentConsistencyThresholds) -> Verdict:
        clean, aug, base, metric = e.clean, e.augmented, e.input_free_baseline, e.metric
        if metric == "mse":  # skill as R^2-like: the share of the baseline's error removed
            skill_clean, skill_aug = 1 - clean / max(base, 1e-12), 1 - aug / max(base, 1e-12)
        else:
            skill_clean, skill_aug = clean - base, aug - base
        text = (f"after a short run on clean data, {metric} {clean:.3g} on clean samples, {aug:.3g} on augmented "
                f"ones (input-free baseline {base:.3g})")
        if skill_clean < t.min_skill:
            return Verdict("skip", f"{text}: the short run learned too little to judge the augmentation")
        kept = skill_aug / skill_clean
        numbers = {"skill_kept": kept}
        fix = ("the augmentation changes what the label means: flip left/right labels with the image, keep crops "
               "and noise mild enough that the object stays recognizable, and transform targets with inputs")
        if kept < t.fail_kept:
            return Verdict("fail", f"{text}: augmented samples keep {kept:.0%} of the model's skill", fix, evidence=numbers)
        if kept < t.warn_kept:
            return Verdict("warn", f"{text}: augmented samples keep only {kept:.0%} of the model's skill", fix,
                           evidence=numbers)
        return Verdict("pass", f"{text}: augmented samples keep {kept:.0%} of the skill", evidence=numbers)
