"""target-alignment: a target equal to the visible input far more often than chance is an off-by-one."""

from __future__ import annotations

from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.target_alignment import TargetAlignment, TargetAlignmentThresholds


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["target-alignment"], device="cpu").check("target-alignment").status


def test_next_token_targets_pass_and_unshifted_fail() -> None:
    assert status(toy.sequence()) == "pass"
    x, _ = toy.counting_sequences(256, seed=1).tensors
    assert status(toy.sequence(train=TensorDataset(x, x.clone()))) == "fail"


def test_judge_without_torch() -> None:
    judge, t = TargetAlignment().judge, TargetAlignmentThresholds()
    chance = {"rate": 0.06, "chance": 0.06}
    assert judge({"same_position": chance, "previous_position": chance}, t).status == "pass"
    assert judge({"same_position": {"rate": 1.0, "chance": 0.06}, "previous_position": chance}, t).status == "fail"
