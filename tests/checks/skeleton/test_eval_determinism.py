"""eval-determinism: the same batch twice gives the same eval outputs, and per-sample outputs."""

from __future__ import annotations

import torch
from torch import nn

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.eval_determinism import (
    EvalDeterminism,
    EvalDeterminismEvidence,
    EvalDeterminismThresholds,
)


class DropoutAlwaysOn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = toy.mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(nn.functional.dropout(x, 0.5, training=True))


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["eval-determinism"], device="cpu").check("eval-determinism").status


def test_dropout_module_passes_and_dropout_at_eval_fails() -> None:
    with_dropout = lambda: nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))  # noqa: E731
    assert status(toy.classification(model=with_dropout)) == "pass"
    assert status(toy.classification(model=DropoutAlwaysOn)) == "fail"


def test_batch_statistics_at_eval_fail() -> None:
    bn = lambda: nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32, track_running_stats=False), nn.Linear(32, 4))  # noqa: E731
    assert status(toy.classification(model=bn)) == "fail"


def test_judge_without_torch() -> None:
    judge, t = EvalDeterminism().judge, EvalDeterminismThresholds()
    assert judge(EvalDeterminismEvidence(repeat_difference=0.0, alone_difference=1e-7), t).status == "pass"
    assert judge(EvalDeterminismEvidence(repeat_difference=0.1, alone_difference=0.0), t).status == "fail"
    assert judge(EvalDeterminismEvidence(repeat_difference=0.0, alone_difference=float("inf")), t).status == "fail"
    raised = EvalDeterminismEvidence(repeat_difference=0.0, alone_difference=float("inf"), alone_error="ValueError: x")
    assert "alone it raises ValueError: x" in judge(raised, t).summary
