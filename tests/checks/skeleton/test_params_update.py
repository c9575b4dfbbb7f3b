"""params-update: every trainable parameter gets a gradient, is in the optimizer and moves."""

from __future__ import annotations

import torch

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.params_update import ParamsUpdate, ParamsUpdateThresholds


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
    m = {"trainable": 2, "frozen": [], "not_in_optimizer": [], "no_gradient": [], "_moved": {"w": 0.1, "b": 0.2},
         "_trainable_names": ["w", "b"]}
    assert judge(m, t).status == "pass"
    assert judge({**m, "no_gradient": ["b"], "_moved": {"w": 0.1, "b": 0.0}}, t).status == "fail"
