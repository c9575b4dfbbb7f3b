"""output-shape: the output fits the task and the number of classes."""

from __future__ import annotations

import dataclasses

from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from nnrecipe.checks.base import NoThresholds
from nnrecipe.checks.skeleton.output_shape import OutputShape, OutputShapeEvidence


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["output-shape"], device="cpu").check("output-shape").status


def test_correct_setups_pass() -> None:
    for make in (toy.classification, toy.regression, toy.sequence):
        assert status(make()) == "pass"


def test_too_few_classes_and_regression_broadcast_fail() -> None:
    assert status(toy.classification(model=lambda: toy.mlp(classes=3))) == "fail"
    x, y = toy.linear_regression_data(512, seed=1).tensors
    assert status(toy.regression(train=TensorDataset(x, y[:, 0]), val=TensorDataset(x, y[:, 0]))) == "fail"


def test_judge_without_torch() -> None:
    judge, t = OutputShape().judge, NoThresholds()
    m = OutputShapeEvidence(task="classification", output_shape=[4, 10], expected=[4, 10], num_classes_given=False,
                            floating=True)
    assert judge(m, t).status == "pass"
    assert judge(dataclasses.replace(m, output_shape=[4, 12]), t).status == "warn"
    assert judge(dataclasses.replace(m, output_shape=[4, 8]), t).status == "fail"
    assert judge(dataclasses.replace(m, output_shape=[4, 12], num_classes_given=True), t).status == "fail"
    assert judge(dataclasses.replace(m, floating=False), t).status == "fail"
