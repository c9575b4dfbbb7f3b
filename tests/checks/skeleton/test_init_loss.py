"""init-loss: the theory comes from the experiment's own loss, in the model's own output space."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy


def result(exp: nr.Experiment) -> nr.CheckResult:
    return nr.check(exp, ids=["init-loss"], device="cpu").check("init-loss")


def log_softmax_mlp() -> nn.Module:
    return nn.Sequential(toy.mlp(), nn.LogSoftmax(dim=-1))


def test_log_softmax_with_nll_loss_passes_and_a_huge_bias_still_fails() -> None:
    got = result(toy.classification(model=log_softmax_mlp, loss=F.nll_loss))
    assert got.status == "pass" and got.evidence["output_space"] == "log-probabilities"

    def biased() -> nn.Module:
        model = toy.mlp()
        with torch.no_grad():
            model[-1].bias[0] = 12.0
        return nn.Sequential(model, nn.LogSoftmax(dim=-1))

    assert result(toy.classification(model=biased, loss=F.nll_loss)).status == "fail"


def test_huber_regression_is_judged_by_huber_theory() -> None:
    x, y = toy.linear_regression_data(512, seed=1).tensors
    shifted = TensorDataset(x, y + 3.0)  # a target mean away from zero: MSE theory and Huber theory differ
    exp = toy.regression(train=shifted, val=shifted, loss=F.smooth_l1_loss)
    got = result(exp)
    assert got.status == "pass", got.summary
    assert got.evidence["expected"] < float(F.mse_loss(torch.zeros_like(y), y + 3.0))


def test_one_binary_logit_with_bce_passes() -> None:
    x, y = toy.blobs(512, classes=2, seed=1).tensors
    ds = TensorDataset(x, y)
    exp = toy.classification(train=ds, val=ds, model=lambda: toy.mlp(classes=1),
                             loss=lambda out, t: F.binary_cross_entropy_with_logits(out.reshape(-1), t.float()))
    got = result(exp)
    assert got.status == "pass" and got.evidence["output_space"] == "binary-logit"
    assert nr.check(exp, ids=["output-shape"], device="cpu").check("output-shape").status == "pass"
