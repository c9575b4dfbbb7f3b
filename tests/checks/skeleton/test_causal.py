"""causal: next-token outputs must see only the past."""

from __future__ import annotations

import torch
from torch import nn

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.causal import Causal, CausalEvidence, CausalThresholds


class LooksAhead(toy.TinyCausalLM):
    """Padded on both sides: position t sees t+1."""

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids).transpose(1, 2)
        h = nn.functional.pad(h, (1, 1))
        return self.head(torch.relu(self.conv(h)).transpose(1, 2))


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["causal"], device="cpu").check("causal").status


def test_causal_model_passes_and_lookahead_fails() -> None:
    assert status(toy.sequence()) == "pass"
    assert status(toy.sequence(model=LooksAhead)) == "fail"


def test_skips_other_tasks() -> None:
    assert status(toy.classification()) == "skip"


def test_judge_without_torch() -> None:
    judge, t = Causal().judge, CausalThresholds()

    def leak(value: float, where: int | None) -> CausalEvidence:
        return CausalEvidence(leakage_from_future=value, perturbed_positions=[1, 8], worst_position=where)

    assert judge(leak(0.0, None), t).status == "pass"
    assert judge(leak(0.2, 8), t).status == "fail"
