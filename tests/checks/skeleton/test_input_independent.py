"""input-independent: zeroed inputs must do clearly worse than the real ones."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.input_independent import InputIndependent, InputIndependentThresholds


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["input-independent"], device="cpu").check("input-independent").status


def test_correct_setups_pass() -> None:
    assert status(toy.classification()) == "pass"
    assert status(toy.sequence()) == "pass"


def test_labels_shuffled_apart_from_inputs_fail() -> None:
    x, y = toy.blobs(512, seed=1).tensors
    shuffled = TensorDataset(x, y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))])
    assert status(toy.classification(train=shuffled)) == "fail"


def test_judge_without_torch() -> None:
    judge, t = InputIndependent().judge, InputIndependentThresholds()
    assert judge({"real_inputs": {"loss": 0.5}, "zero_inputs": {"loss": 1.0}}, t).status == "pass"
    assert judge({"real_inputs": {"loss": 0.95}, "zero_inputs": {"loss": 1.0}}, t).status == "warn"
    assert judge({"real_inputs": {"loss": 1.0}, "zero_inputs": {"loss": 1.0}}, t).status == "fail"
    assert judge({"real_inputs": {"loss": float("nan")}, "zero_inputs": {"loss": 1.0}}, t).status == "fail"


def test_judge_passes_a_slow_learner_whose_progress_comes_from_its_input() -> None:
    from nnrecipe.checks.skeleton.input_independent import InputIndependent, InputIndependentThresholds

    check, t = InputIndependent(), InputIndependentThresholds()
    slow = {"real_inputs": {"loss": 0.96}, "zero_inputs": {"loss": 1.05}, "untrained": {"loss": 1.16}}
    assert check.judge(slow, t).status == "pass"  # gain 8.6%, but 45% of what was learned came from x
    prior_only = {"real_inputs": {"loss": 1.00}, "zero_inputs": {"loss": 1.05}, "untrained": {"loss": 1.60}}
    assert check.judge(prior_only, t).status == "warn"  # gain 4.8%, and only 8% of the learning used x
    ignores = {"real_inputs": {"loss": 1.05}, "zero_inputs": {"loss": 1.05}, "untrained": {"loss": 1.16}}
    assert check.judge(ignores, t).status == "fail"
