"""human-baseline: a second, independent annotation of the first validation samples, next to the model's.

Human agreement with the labels is the ceiling read on every later number; low agreement says the labels
(or the task) are noisy, which caps what any model can reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.checks.skeleton.short_run import shared_short_run
from nnrecipe.engine.data import take
from nnrecipe.engine.loop import accuracy, predict
from nnrecipe.engine.targets import labelled


@dataclass(frozen=True)
class HumanBaselineThresholds:
    #: warn when humans agree with the labels less often than this (classification and sequences)
    agreement: float = 0.8


@dataclass(frozen=True)
class HumanBaselineEvidence:
    #: the first validation samples, which the human labels annotate
    samples: int
    #: "accuracy", or "mse" for regression
    metric: str
    #: the human labels' score against the labels, and the short-run model's
    human: float
    model_short_run: float


class HumanBaseline(ModelCheck[HumanBaselineEvidence, HumanBaselineThresholds]):
    id = "human-baseline"
    stage = "skeleton"
    title = "Human baseline beside the model"
    Thresholds = HumanBaselineThresholds

    def applies(self, ctx: ModelContext) -> str | None:
        return None if ctx.experiment.human_labels is not None else "no human_labels given"

    def measure(self, ctx: ModelContext) -> HumanBaselineEvidence:
        labels = ctx.experiment.human_labels
        assert labels is not None
        n = len(labels)
        subset = torch.utils.data.Subset(ctx.experiment.val, list(range(n)))
        _, targets = take(subset, torch.arange(n))
        human = torch.stack([torch.as_tensor(h) for h in labels]).to(targets.dtype).reshape(targets.shape)
        out, _ = predict(shared_short_run(ctx).model, subset, device=ctx.device)
        out = out.cpu()
        if ctx.task == "regression":
            model_score = float(((out.reshape(targets.shape) - targets) ** 2).mean())
            human_score = float(((human - targets) ** 2).mean())
            return HumanBaselineEvidence(samples=n, metric="mse", human=human_score, model_short_run=model_score)
        model_score = accuracy(out, targets, ctx.ignore_index)
        human_score = float((human == targets)[labelled(targets, ctx.ignore_index)].double().mean())
        return HumanBaselineEvidence(samples=n, metric="accuracy", human=human_score, model_short_run=model_score)

    def judge(self, e: HumanBaselineEvidence, t: HumanBaselineThresholds) -> Verdict:
        text = (f"on {e.samples} validation samples, humans score {e.metric} {e.human:.4g}, the model "
                f"after a short run {e.model_short_run:.4g}")
        if e.metric == "accuracy" and e.human < t.agreement:
            return Verdict("warn", f"{text}: humans often disagree with the labels",
                           "the labels or the task are ambiguous: review the disagreements, clean the labels, or "
                           "read every score against this ceiling")
        return Verdict("pass", text)
