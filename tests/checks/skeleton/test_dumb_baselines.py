"""dumb-baselines: the short run must beat the majority class / mean predictor; a linear model is reported."""

from __future__ import annotations

import dataclasses

import torch
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.dumb_baselines import DumbBaselines, DumbBaselinesEvidence, DumbBaselinesThresholds


def result(exp: nr.Experiment) -> nr.CheckResult:
    return nr.check(exp, ids=["dumb-baselines"], device="cpu").check("dumb-baselines")


def test_correct_setups_pass_with_a_linear_baseline() -> None:
    got = result(toy.classification())
    assert got.status == "pass" and got.evidence["linear"]["accuracy"] > 0.5
    assert result(toy.regression()).status == "pass"


def test_labels_shuffled_fail() -> None:
    x, y = toy.blobs(512, seed=1).tensors
    shuffled = TensorDataset(x, y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))])
    assert result(toy.classification(train=shuffled)).status == "fail"


def test_judge_without_torch() -> None:
    judge, t = DumbBaselines().judge, DumbBaselinesThresholds()
    major = {"accuracy": 0.3, "loss": 1.2}
    good = DumbBaselinesEvidence(task="classification", majority=major, linear=None,
                                 short_run={"accuracy": 0.8, "loss": 0.5}, samples=512)
    bad = dataclasses.replace(good, short_run={"accuracy": 0.33, "loss": 1.25})
    assert judge(good, t).status == "pass"
    assert judge(bad, t).status == "fail"
    # A language model early in training: every number ahead of the unigram baseline, by a clear margin in
    # accuracy over 2,048 validation windows (the word-level LSTM case): a pass, not "does not beat".
    lm = DumbBaselinesEvidence(task="sequence", majority={"accuracy": 0.053, "loss": 6.60}, linear=None,
                               short_run={"accuracy": 0.098, "loss": 6.52}, samples=2048)
    assert judge(lm, t).status == "pass"
    # The same gap on 40 samples is within chance (shuffled labels look like this).
    assert judge(dataclasses.replace(lm, samples=40), t).status == "fail"


def test_padding_targets_are_left_out_of_the_majority_baseline() -> None:
    from nnrecipe.checks.skeleton._common import majority_scores

    train = torch.tensor([[1, 1, 2, -1, -1], [1, 2, 2, 2, -1]])
    val = torch.tensor([[2, 2, 2, -1, -1]])
    got = majority_scores(train, val, "sequence", 3, ignore=-1)
    assert got["accuracy"] == 1.0  # class 2 is the majority of the labelled tokens; the padding counts nowhere
