"""augment-consistency: an augmentation that changes what the label means is caught."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.augment_consistency import (
    AugmentConsistency,
    AugmentConsistencyEvidence,
    AugmentConsistencyThresholds,
)


def left_right(n: int, seed: int) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.randn(n, 8, generator=gen) * 0.5
    x[y == 0, :4] += 1.0
    x[y == 1, 4:] += 1.0
    return TensorDataset(x, y)


def flip_only_input(x: Any, y: Any) -> tuple[Any, Any]:
    return x.flip(-1), y


def flip_both(x: Any, y: Any) -> tuple[Any, Any]:
    return x.flip(-1), 1 - y


def status(augment: Any) -> str:
    exp = toy.classification(train=left_right(512, 1), val=left_right(128, 2), model=lambda: toy.mlp(classes=2),
                             augment=augment)
    return nr.check(exp, ids=["augment-consistency"], device="cpu").check("augment-consistency").status


def test_label_preserving_flip_passes_and_label_breaking_flip_fails() -> None:
    assert status(flip_both) == "pass"
    assert status(flip_only_input) == "fail"
    assert status(None) == "skip"


def test_judge_without_torch() -> None:
    judge, t = AugmentConsistency().judge, AugmentConsistencyThresholds()
    m = AugmentConsistencyEvidence(metric="accuracy", clean=0.9, augmented=0.85, input_free_baseline=0.5)
    assert judge(m, t).status == "pass"
    assert judge(dataclasses.replace(m, augmented=0.1), t).status == "fail"
    assert judge(dataclasses.replace(m, clean=0.55, augmented=0.1), t).status == "skip"
