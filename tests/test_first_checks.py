"""The first three skeleton checks, on correct setups and on the broken ones the foundation issue names."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy

IDS = ["init-loss", "overfit-one-batch", "loss-decreases"]


def statuses(exp: nr.Experiment) -> dict[str, str]:
    result = nr.check(exp, ids=IDS, device="cpu")
    return {c.id: c.status for c in result.checks}


@pytest.mark.parametrize("make", [toy.classification, toy.regression, toy.sequence])
def test_correct_setups_pass(make) -> None:
    assert statuses(make()) == {i: "pass" for i in IDS}


def test_softmax_before_cross_entropy_fails_overfit() -> None:
    exp = toy.classification(model=lambda: nn.Sequential(toy.mlp(), nn.Softmax(dim=-1)))
    got = statuses(exp)
    assert got["overfit-one-batch"] == "fail"


def test_final_bias_of_12_on_one_class_fails_init_loss() -> None:
    def biased() -> nn.Module:
        model = toy.mlp()
        with torch.no_grad():
            model[-1].bias[0] = 12.0
        return model

    assert statuses(toy.classification(model=biased))["init-loss"] == "fail"


def _raw_digits(scale: float) -> tuple[TensorDataset, TensorDataset]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) * scale  # (N, 1, 8, 8)
    y = torch.tensor(digits.target)
    return TensorDataset(x[:1200], y[:1200]), TensorDataset(x[1200:], y[1200:])


def _small_convnet() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 64, 10))


def test_raw_0_255_pixels_fail_init_loss_and_normalized_pass() -> None:
    train, val = _raw_digits(255.0 / 16.0)
    raw = nr.Experiment(name="raw", task="classification", train=train, val=val, model=_small_convnet)
    assert statuses(raw)["init-loss"] == "fail"
    mean, std = train.tensors[0].mean(), train.tensors[0].std()
    norm = nr.Experiment(name="norm", task="classification", model=_small_convnet,
                         train=TensorDataset((train.tensors[0] - mean) / std, train.tensors[1]),
                         val=TensorDataset((val.tensors[0] - mean) / std, val.tensors[1]))
    assert statuses(norm)["init-loss"] == "pass"


def test_loss_clamped_to_one_fails() -> None:
    exp = toy.classification(loss=lambda out, y: nn.functional.cross_entropy(out, y).clamp(max=1.0))
    got = statuses(exp)
    assert got["overfit-one-batch"] == "fail"
    assert got["init-loss"] in ("warn", "fail")  # the loss disagrees with cross-entropy on uninformed outputs


def test_adam_at_lr_3_fails_loss_decreases() -> None:
    # a handful of separable points can still be "fit" by huge steps; the real training set cannot
    got = statuses(toy.classification(optimizer=lambda p: torch.optim.Adam(p, lr=3.0)))
    assert got["loss-decreases"] == "fail"


def test_adam_at_lr_1e_8_fails_both() -> None:
    got = statuses(toy.classification(optimizer=lambda p: torch.optim.Adam(p, lr=1e-8)))
    assert got["overfit-one-batch"] == "fail"
    assert got["loss-decreases"] == "fail"


def test_nan_input_fails_init_loss() -> None:
    x, y = toy.blobs(256).tensors
    x = x.clone()
    x[::7, 0] = float("nan")
    exp = toy.classification(train=TensorDataset(x, y))
    assert statuses(exp)["init-loss"] == "fail"


def test_judge_init_loss_is_pure_and_two_sided() -> None:
    from nnrecipe.checks.skeleton.init_loss import InitLoss, InitLossEvidence, InitLossThresholds

    check, t = InitLoss(), InitLossThresholds()

    def at(measured: float) -> InitLossEvidence:
        return InitLossEvidence(measured=measured, per_init=[measured], expected=2.30, expected_with_prior_bias=2.30,
                                output_space="logits", loss="the standard")

    assert check.judge(at(2.35), t).status == "pass"
    assert check.judge(at(3.2), t).status == "warn"
    assert check.judge(at(10.75), t).status == "fail"
    assert check.judge(at(0.5), t).status == "fail"  # far below theory is a bug too


def test_checks_leave_global_random_state_as_found() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    nr.check(toy.classification(), ids=IDS, device="cpu")
    assert torch.equal(torch.rand(3), expected)


def test_a_crashing_check_becomes_an_error_row_and_the_rest_run() -> None:
    calls = {"n": 0}

    def flaky_model() -> nn.Module:
        calls["n"] += 1
        if calls["n"] > 1:  # the factory check at load passes; later builds crash
            raise RuntimeError("boom")
        return toy.mlp()

    result = nr.check(toy.classification(model=flaky_model), ids=IDS, device="cpu")
    assert [c.id for c in result.checks] == IDS
    assert all(c.status == "error" and "boom" in c.summary for c in result.checks)
