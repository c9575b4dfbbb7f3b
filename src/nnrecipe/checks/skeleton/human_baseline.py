"""human-baseline: a second, independent annotation of the first validation samples, next to the model's.

Human agreement with the labels is the ceiling read on every later number; low agreement says the labels
(or the task) are noisy, which caps what any model can reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.skeleton.short_run import shared_short_run
from nnrecipe.engine.data import take
from nnrecipe.engine.loop import accuracy, predict
from nnrecipe.engine.targets import labelled


@dataclass(frozen=True)
class HumanBaselineThresholds:
    #: warn when humans agree with the labels less often than this (classification and sequences)
    agreement: float = 0.8


class HumanBaseline(Check):
    id = "human-baseline"
    stage = "skeleton"
    title = "Human baseline beside the model"
    Thresholds = HumanBaselineThresholds

    def applies(self, ctx: CheckContext) -> str | None:
        return None if ctx.experiment.human_labels is not None else "no human_labels given"

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
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
            return {"samples": n, "metric": "mse", "human": human_score, "model_short_run": model_score}
        model_score = accuracy(out, targets, ctx.ignore_index)
        human_score = float((human == targets)[labelled(targets, ctx.ignore_index)].double().mean())
        return {"samples": n, "metric": "accuracy", "human": human_score, "model_short_run": model_score}

    def judge(self, m: Mapping[str, Any], t: HumanBaselineThresholds) -> Verdict:
        text = (f"on {m['samples']} validation samples, humans score {m['metric']} {m['human']:.4g}, the model "
                f"after a short run {m['model_short_run']:.4g}")
        if m["metric"] == "accuracy" and m["human"] < t.agreement:
            return Verdict("warn", f"{text}: humans often disagree with the labels",
                           "the labels or the task are ambiguous: review the disagreements, clean the labels, or "
                           "read every score against this ceiling")
        return Verdict("pass", text)
