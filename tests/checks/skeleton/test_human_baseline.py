"""human-baseline: human agreement with the labels beside the model's accuracy."""

from __future__ import annotations

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.human_baseline import HumanBaseline, HumanBaselineEvidence, HumanBaselineThresholds


def result(exp: nr.Experiment) -> nr.CheckResult:
    return nr.check(exp, ids=["human-baseline"], device="cpu").check("human-baseline")


def test_agreeing_humans_pass_and_disagreeing_warn() -> None:
    exp = toy.classification()
    labels = exp.val.tensors[1][:50]
    assert result(exp).status == "skip"
    good = result(toy.classification(human_labels=labels.tolist()))
    assert good.status == "pass" and good.evidence["human"] == 1.0
    assert result(toy.classification(human_labels=((labels + 1) % 4).tolist())).status == "warn"


def test_judge_without_torch() -> None:
    judge, t = HumanBaseline().judge, HumanBaselineThresholds()
    def humans(score: float, metric: str = "accuracy") -> HumanBaselineEvidence:
        return HumanBaselineEvidence(samples=10, metric=metric, human=score, model_short_run=0.7)

    assert judge(humans(0.95), t).status == "pass"
    assert judge(humans(0.5), t).status == "warn"
    assert judge(humans(0.5, "mse"), t).status == "pass"  # no agreement ceiling on an error
