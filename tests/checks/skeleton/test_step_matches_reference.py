"""step-matches-reference: a custom train_step applies the gradient the loss gives."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.step_matches_reference import (
    GradientRecord,
    StepMatchesReference,
    StepMatchesReferenceEvidence,
    StepMatchesReferenceThresholds,
    StepRecord,
    UpdateRecord,
)


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

    def steps(*records: StepRecord) -> StepMatchesReferenceEvidence:
        return StepMatchesReferenceEvidence(steps=len(records), per_step=list(records),
                                            optimizer_steps=sum(r["kind"] == "gradient" for r in records))

    ok: GradientRecord = {"kind": "gradient", "cosine": 1.0, "norm_ratio": 1.0, "reference_norm": 1.0}
    assert judge(steps(ok, ok), t).status == "pass"
    assert judge(steps(ok, {**ok, "norm_ratio": 4.0}), t).status == "fail"
    assert judge(steps(ok, {**ok, "norm_ratio": 0.0}), t).status == "fail"  # the gradient is lost
    assert judge(steps(ok, {**ok, "cosine": 0.5}), t).status == "fail"
    assert "clipping" in judge(steps(ok, {**ok, "norm_ratio": 0.5}), t).summary
    by_hand: UpdateRecord = {"kind": "update", "cosine": 1.0, "moved": 0.1, "reference_norm": 1.0}
    assert judge(steps(by_hand, by_hand), t).status == "pass"
    assert judge(steps(by_hand, {**by_hand, "cosine": 0.7}), t).status == "warn"
    assert judge(steps(by_hand, {**by_hand, "cosine": -1.0}), t).status == "fail"
    assert judge(steps({**by_hand, "moved": 0.0}), t).status == "fail"


def hand_written_update(sign: float) -> Any:
    """The old PyTorch examples' style: no optimizer step, the parameters updated through .data."""

    def step(model: Any, batch: Any, optimizer: Any) -> torch.Tensor:
        x, y = batch
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        for p in model.parameters():
            p.data.add_(-sign * 0.1 * p.grad.data)
        return loss

    return step


def lbfgs_step(model: Any, batch: Any, optimizer: Any) -> torch.Tensor:
    x, y = batch

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return optimizer.step(closure)


def test_hand_written_update_passes_and_its_wrong_sign_fails() -> None:
    assert status(toy.classification(train_step=hand_written_update(+1.0))) == "pass"
    assert status(toy.classification(train_step=hand_written_update(-1.0))) == "fail"


def test_lbfgs_with_a_closure_passes() -> None:
    lbfgs = lambda params: torch.optim.LBFGS(params, lr=0.5, max_iter=5)  # noqa: E731
    assert status(toy.classification(optimizer=lbfgs, train_step=lbfgs_step)) == "pass"
