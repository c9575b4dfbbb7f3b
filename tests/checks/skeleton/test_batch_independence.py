"""batch-independence: one sample's output must not depend on the others (exactly, in eval mode)."""

from __future__ import annotations

import torch
from torch import nn

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.batch_independence import (
    BatchIndependence,
    BatchIndependenceEvidence,
    BatchIndependenceThresholds,
)


class MixesBatch(nn.Module):
    """A reshape across the batch axis: the classic view-instead-of-permute."""

    def __init__(self) -> None:
        super().__init__()
        self.net = toy.mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, f = x.shape
        return self.net(x.t().reshape(b, f))


def status(exp: nr.Experiment) -> nr.CheckResult:
    return nr.check(exp, ids=["batch-independence"], device="cpu").check("batch-independence")


def test_correct_setups_pass() -> None:
    assert status(toy.classification()).status == "pass"
    assert status(toy.sequence()).status == "pass"


def test_batchnorm_mixing_in_train_mode_is_not_a_bug() -> None:
    bn = lambda: nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))  # noqa: E731
    got = status(toy.classification(model=bn))
    assert got.status == "pass" and got.evidence["train_leakage"] > 0


def test_mixing_across_the_batch_fails() -> None:
    assert status(toy.classification(model=MixesBatch)).status == "fail"


def test_rnn_without_batch_first_fails_by_perturbation() -> None:
    class TimeMajor(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.rnn, self.head = nn.Embedding(24, 16), nn.GRU(16, 16), nn.Linear(16, 24)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(self.embed(ids))[0])  # (B, T, C) read as (T, B, C)

    got = status(toy.sequence(model=TimeMajor))
    assert got.status == "fail" and got.evidence["method"] == "perturbation"


def test_judge_without_torch() -> None:
    judge, t = BatchIndependence().judge, BatchIndependenceThresholds()
    def leaks(eval_leakage: float, train_leakage: float) -> BatchIndependenceEvidence:
        return BatchIndependenceEvidence(eval_leakage=eval_leakage, train_leakage=train_leakage, batch_norm_layers=[],
                                         method="gradient")

    assert judge(leaks(0.0, 0.0), t).status == "pass"
    assert judge(leaks(0.3, 0.3), t).status == "fail"
    assert judge(leaks(0.0, 0.3), t).status == "warn"
