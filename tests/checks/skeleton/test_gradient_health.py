"""gradient-health: dead units, saturated activations, update-to-weight ratios."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.gradient_health import GradientHealth, GradientHealthEvidence, GradientHealthThresholds


def status(exp: nr.Experiment) -> nr.CheckResult:
    return nr.check(exp, ids=["gradient-health"], device="cpu").check("gradient-health")


def test_correct_setup_passes() -> None:
    assert status(toy.classification()).status == "pass"


def test_dead_relus_and_tiny_lr_warn() -> None:
    def dead() -> nn.Module:
        model = toy.mlp()
        with torch.no_grad():
            model[0].bias.fill_(-100.0)  # every hidden unit starts (and stays) off
        return model

    assert status(toy.classification(model=dead)).status == "warn"
    assert status(toy.classification(optimizer=lambda p: torch.optim.Adam(p, lr=1e-9))).status == "warn"


def test_saturated_tanh_warns() -> None:
    def saturated() -> nn.Module:
        model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 4))
        with torch.no_grad():
            model[0].weight.mul_(100.0)
        return model

    assert status(toy.classification(model=saturated)).status == "warn"


def test_judge_without_torch() -> None:
    judge, t = GradientHealth().judge, GradientHealthThresholds()
    m = GradientHealthEvidence(activations=[{"layer": "1", "kind": "dead", "units": 32, "share": 0.1}],
                               grad_to_weight={"0.weight": 0.01, "2.weight": 0.02}, update_to_weight={"0.weight": 1e-3})
    assert judge(m, t).status == "pass"
    assert judge(dataclasses.replace(m, grad_to_weight={"0.weight": float("nan")}), t).status == "fail"
    assert judge(dataclasses.replace(m, update_to_weight={"0.weight": 5.0}), t).status == "warn"
    # every problem found is listed, in order, each fix once
    dead = [{"layer": "1", "kind": "dead", "units": 32, "share": 0.9}, {"layer": "3", "kind": "dead", "units": 32,
                                                                         "share": 0.8}]
    both = judge(dataclasses.replace(m, activations=dead, update_to_weight={"0.weight": 5.0}), t)
    assert both.status == "warn" and both.summary.startswith("90% of the units after 1 are dead; 80%")
    assert both.summary.endswith("(healthy is around 1e-3)") and both.fix is not None and both.fix.count("dead/") == 1
