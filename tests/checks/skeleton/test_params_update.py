"""params-update: every trainable parameter gets a gradient, is in the optimizer and moves."""

from __future__ import annotations

import dataclasses

import torch

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.params_update import ParamsUpdate, ParamsUpdateEvidence, ParamsUpdateThresholds


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["params-update"], device="cpu").check("params-update").status


def test_correct_setup_passes() -> None:
    assert status(toy.classification()) == "pass"


def test_params_missing_from_optimizer_fail_and_frozen_warn() -> None:
    assert status(toy.classification(optimizer=lambda p: torch.optim.Adam(list(p)[:2], lr=3e-3))) == "fail"

    def frozen() -> torch.nn.Module:
        model = toy.mlp()
        model[0].requires_grad_(False)
        return model

    assert status(toy.classification(model=frozen)) == "warn"


def test_judge_without_torch() -> None:
    judge, t = ParamsUpdate().judge, ParamsUpdateThresholds()
    m = ParamsUpdateEvidence(trainable=2, frozen=[], not_in_optimizer=[], no_gradient=[], moved={"w": 0.1, "b": 0.2},
                             trainable_names=["w", "b"])
    assert judge(m, t).status == "pass"
    cut = judge(dataclasses.replace(m, no_gradient=["b"], moved={"w": 0.1, "b": 0.0}), t)
    assert cut.status == "fail" and cut.evidence["did_not_move"] == ["b"]
    assert judge(dataclasses.replace(m, not_in_optimizer=["b"]), t).status == "fail"
    assert judge(dataclasses.replace(m, frozen=["c"]), t).status == "warn"
