"""target-alignment: a target equal to the visible input far more often than chance is an off-by-one."""

from __future__ import annotations

from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.target_alignment import (
    Agreement,
    TargetAlignment,
    TargetAlignmentEvidence,
    TargetAlignmentThresholds,
)


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["target-alignment"], device="cpu").check("target-alignment").status


def test_next_token_targets_pass_and_unshifted_fail() -> None:
    assert status(toy.sequence()) == "pass"
    x, _ = toy.counting_sequences(256, seed=1).tensors
    assert status(toy.sequence(train=TensorDataset(x, x.clone()))) == "fail"


def test_judge_without_torch() -> None:
    judge, t = TargetAlignment().judge, TargetAlignmentThresholds()
    chance: Agreement = {"rate": 0.06, "chance": 0.06}
    copied: Agreement = {"rate": 1.0, "chance": 0.06}
    assert judge(TargetAlignmentEvidence(same_position=chance, previous_position=chance), t).status == "pass"
    assert judge(TargetAlignmentEvidence(same_position=copied, previous_position=chance), t).status == "fail"
    lagged = judge(TargetAlignmentEvidence(same_position=chance, previous_position={"rate": 0.4, "chance": 0.06}), t)
    assert lagged.status == "warn" and "the previous input" in lagged.summary
