"""input-independent: zeroed inputs must do clearly worse than the real ones."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.input_independent import (
    InputIndependent,
    InputIndependentEvidence,
    InputIndependentThresholds,
)


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["input-independent"], device="cpu").check("input-independent").status


def test_correct_setups_pass() -> None:
    assert status(toy.classification()) == "pass"
    assert status(toy.sequence()) == "pass"


def test_labels_shuffled_apart_from_inputs_fail() -> None:
    x, y = toy.blobs(512, seed=1).tensors
    shuffled = TensorDataset(x, y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))])
    assert status(toy.classification(train=shuffled)) == "fail"


def losses(real: float, zero: float, untrained: float | None = None, z: float | None = None) -> InputIndependentEvidence:
    """Validation losses of the two runs and of their start (by default where the real run ended: nothing learned)."""
    return InputIndependentEvidence(real_inputs={"loss": real}, zero_inputs={"loss": zero},
                                    untrained={"loss": real if untrained is None else untrained}, steps=150,
                                    paired=None if z is None else {"mean_gain": 0.01, "z": z, "samples": 512})


def test_judge_without_torch() -> None:
    judge, t = InputIndependent().judge, InputIndependentThresholds()
    assert judge(losses(0.5, 1.0), t).status == "pass"
    assert judge(losses(0.95, 1.0), t).status == "warn"
    assert judge(losses(1.0, 1.0), t).status == "fail"
    assert judge(losses(float("nan"), 1.0), t).status == "fail"


def test_judge_passes_a_slow_learner_whose_progress_comes_from_its_input() -> None:
    check, t = InputIndependent(), InputIndependentThresholds()
    slow = losses(0.96, 1.05, untrained=1.16)
    assert check.judge(slow, t).status == "pass"  # gain 8.6%, but 45% of what was learned came from x
    prior_only = losses(1.00, 1.05, untrained=1.60)
    assert check.judge(prior_only, t).status == "warn"  # gain 4.8%, and only 8% of the learning used x
    ignores = losses(1.05, 1.05, untrained=1.16)
    assert check.judge(ignores, t).status == "fail"


def test_judge_reads_the_per_sample_comparison() -> None:
    check, t = InputIndependent(), InputIndependentThresholds()
    assert check.judge(losses(1.00, 1.05, untrained=1.60, z=5.0), t).status == "pass"  # small, but beyond noise
    short = check.judge(losses(1.00, 1.05, untrained=1.60, z=1.0), t)
    assert short.status == "warn" and "1.0 standard errors on 512 validation samples" in short.summary
    assert check.judge(losses(1.04, 1.05, z=5.0), t).status == "warn"  # beyond noise, but by only 1%
