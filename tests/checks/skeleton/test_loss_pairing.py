"""loss-pairing: the loss pairs each output with its own target; broadcasting is a fail."""

from __future__ import annotations

import dataclasses

import pytest
import torch.nn.functional as F
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.loss_pairing import LossPairing, LossPairingEvidence, LossPairingThresholds


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["loss-pairing"], device="cpu").check("loss-pairing").status


def test_standard_losses_pass() -> None:
    for make in (toy.classification, toy.regression, toy.sequence):
        assert status(make()) == "pass"


@pytest.mark.filterwarnings("ignore:Using a target size")
def test_broadcasting_b1_against_b_fails() -> None:
    x, y = toy.linear_regression_data(512, seed=1).tensors
    flat = TensorDataset(x, y[:, 0])
    assert status(toy.regression(train=flat, loss=lambda o, t: F.mse_loss(o, t.unsqueeze(0)))) == "fail"


def test_summed_loss_warns() -> None:
    assert status(toy.classification(loss=lambda o, t: F.cross_entropy(o, t, reduction="sum"))) == "warn"


def test_judge_without_torch() -> None:
    judge, t = LossPairing().judge, LossPairingThresholds()
    m = LossPairingEvidence(loss=1.0, targets_shuffled=1.3, joint_permutation=1.0, mean_per_sample=1.0, batch=16,
                            output_shape=[16, 4], target_shape=[16], task="classification")
    assert judge(m, t).status == "pass"
    assert judge(dataclasses.replace(m, targets_shuffled=1.0), t).status == "fail"
    assert judge(dataclasses.replace(m, mean_per_sample=1 / 16), t).status == "warn"
    assert "differs from the mean" in judge(dataclasses.replace(m, mean_per_sample=0.5), t).summary
    assert judge(dataclasses.replace(m, task="regression", output_shape=[16, 1]), t).status == "fail"
