"""step-matches-reference: a custom train_step applies the gradient the loss gives."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.step_matches_reference import StepMatchesReference, StepMatchesReferenceThresholds


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["step-matches-reference"], device="cpu").check("step-matches-reference").status


def clipping_step(model: Any, batch: Any, optimizer: Any) -> torch.Tensor:
    x, y = batch
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
    optimizer.step()
    return loss


def no_zero_grad_step(model: Any, batch: Any, optimizer: Any) -> torch.Tensor:
    x, y = batch
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def clipped_loss_step(model: Any, batch: Any, optimizer: Any) -> torch.Tensor:
    x, y = batch
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y).clamp(max=1.0)
    loss.backward()
    optimizer.step()
    return loss


def test_skip_without_custom_step_and_gradient_clipping_passes() -> None:
    assert status(toy.classification()) == "skip"
    assert status(toy.classification(train_step=clipping_step)) == "pass"


def test_missing_zero_grad_and_clipped_loss_fail() -> None:
    assert status(toy.classification(train_step=no_zero_grad_step)) == "fail"
    assert status(toy.classification(train_step=clipped_loss_step)) == "fail"


def test_judge_without_torch() -> None:
    judge, t = StepMatchesReference().judge, StepMatchesReferenceThresholds()
    ok = {"cosine": 1.0, "norm_ratio": 1.0, "reference_norm": 1.0}
    assert judge({"steps": 2, "per_step": [ok, ok]}, t).status == "pass"
    assert judge({"steps": 2, "per_step": [ok, {**ok, "norm_ratio": 4.0}]}, t).status == "fail"
    assert judge({"steps": 2, "per_step": []}, t).status == "warn"
