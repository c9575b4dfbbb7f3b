"""reproducible: the same seed twice gives the same first losses."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.reproducible import Reproducible, ReproducibleEvidence, ReproducibleThresholds

UNSEEDED = np.random.default_rng()


def unseeded_jitter(x: Any, y: Any) -> tuple[Any, Any]:
    return x + torch.as_tensor(UNSEEDED.normal(0, 0.3, size=tuple(x.shape)), dtype=x.dtype), y


def seeded_jitter(x: Any, y: Any) -> tuple[Any, Any]:
    return x + 0.3 * torch.randn_like(x), y  # torch's global generator: seeded by nnrecipe


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["reproducible"], device="cpu").check("reproducible").status


def test_seeded_augmentation_passes_and_unseeded_fails() -> None:
    assert status(toy.classification(augment=seeded_jitter)) == "pass"
    assert status(toy.classification(augment=unseeded_jitter)) == "fail"


def test_judge_without_torch() -> None:
    judge, t = Reproducible().judge, ReproducibleThresholds()
    assert judge(ReproducibleEvidence(first_run=[1.0, 0.9], second_run=[1.0, 0.9]), t).status == "pass"
    assert judge(ReproducibleEvidence(first_run=[1.0, 0.9], second_run=[1.0, 0.8]), t).status == "fail"
    assert judge(ReproducibleEvidence(first_run=[1.0, 0.9], second_run=[1.0, 0.9 + 1e-5]), t).status == "warn"
