"""capacity: twice the width must lower the short run's training loss."""

from __future__ import annotations

from torch import nn

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.capacity import Capacity, CapacityThresholds


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["capacity"], device="cpu").check("capacity").status


def test_correct_setup_passes_and_softmax_before_loss_warns() -> None:
    assert status(toy.sequence()) == "pass"
    softmaxed = lambda: nn.Sequential(toy.mlp(hidden=4), nn.Softmax(-1))  # noqa: E731
    assert status(toy.classification(model=softmaxed, optimizer=lambda p: __import__("torch").optim.SGD(p, lr=1e-3))) == "warn"


def test_judge_without_torch() -> None:
    judge, t = Capacity().judge, CapacityThresholds()
    assert judge({"_base": [2.0] * 10 + [1.0] * 10, "_big": [2.0] * 10 + [0.8] * 10}, t).status == "pass"
    assert judge({"_base": [2.0] * 10 + [1.0] * 10, "_big": [2.0] * 10 + [1.1] * 10}, t).status == "warn"
