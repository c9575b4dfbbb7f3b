"""init-bias: warns when the prior-as-bias would lower the loss at init; init_final_bias and --fix-init."""

from __future__ import annotations

import dataclasses

import torch
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.init_bias import InitBias, InitBiasEvidence, InitBiasThresholds, with_fixed_init


def _binary(n: int, seed: int) -> TensorDataset:
    x, y = toy.blobs(n, seed=seed).tensors
    y = (y == 0).long()  # ~25% class 1 ...
    keep = (y == 0) | (torch.arange(len(y)) % 3 == 0)  # ... thinned to ~10%
    return TensorDataset(x[keep], y[keep])


def _imbalanced() -> nr.Experiment:
    # a uniform init on 90/10 classes
    return toy.classification(train=_binary(600, 1), val=_binary(300, 2), model=lambda: toy.mlp(classes=2))


def status(exp: nr.Experiment) -> nr.CheckResult:
    return nr.check(exp, ids=["init-bias"], device="cpu").check("init-bias")


def test_balanced_classes_pass() -> None:
    assert status(toy.classification()).status == "pass"


def test_imbalanced_uniform_init_warns_and_fix_init_passes() -> None:
    result = status(_imbalanced())
    assert result.status == "warn"
    assert result.evidence["loss_at_init_after"] < result.evidence["loss_at_init_before"]
    fixed = status(with_fixed_init(_imbalanced()))
    assert fixed.status == "pass" and fixed.evidence["fixed"] and "task" not in fixed.evidence
    assert fixed.evidence["loss_at_init_after"] < fixed.evidence["loss_at_init_before"]


def test_regression_targets_far_from_zero_warn() -> None:
    x, y = toy.linear_regression_data(512, seed=1).tensors
    assert status(toy.regression(train=TensorDataset(x, y * 10 + 50))).status == "warn"


def test_init_final_bias_sets_log_prior_and_mean() -> None:
    exp = _imbalanced()
    model = nr.init_final_bias(toy.mlp(classes=2), exp)
    probs = torch.softmax(model[-1].bias, 0)
    prior = torch.bincount(exp.train.tensors[1]).double() / len(exp.train)
    assert torch.allclose(probs.double(), prior, atol=1e-4)
    reg = nr.init_final_bias(toy.mlp(6, 1), torch.full((10, 1), 3.0))
    assert float(reg[-1].bias.detach()) == 3.0


def test_judge_without_torch() -> None:
    judge = InitBias().judge
    t = InitBiasThresholds()

    def init(before: float, after: float | None) -> InitBiasEvidence:
        return InitBiasEvidence(loss_at_init_before=before, loss_at_init_after=after, fixed=False,
                                fixable=after is not None, task="classification")

    assert judge(init(1.0, 0.95), t).status == "pass"
    assert judge(init(1.0, 0.5), t).status == "warn"
    assert judge(init(1.0, None), t).status == "pass"  # no final-layer bias to set


def test_cli_fix_init_flag(tmp_path) -> None:
    from nnrecipe.cli import build_parser

    assert build_parser().parse_args(["check", "x.py", "--fix-init"]).fix_init
    assert build_parser().parse_args(["run", "x.py", "--fix-init"]).fix_init


def test_a_next_token_model_starting_uniform_passes_where_imbalanced_classes_warn() -> None:
    judge, t = InitBias().judge, InitBiasThresholds()
    zipf = InitBiasEvidence(loss_at_init_before=3.35, loss_at_init_after=2.96, fixed=False, fixable=True)
    assert judge(dataclasses.replace(zipf, task="sequence"), t).status == "pass"
    assert judge(dataclasses.replace(zipf, task="classification"), t).status == "warn"
