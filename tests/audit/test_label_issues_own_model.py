"""label-issues on the experiment's own model: when a linear model cannot learn the task, out-of-fold
predictions of brief trainings of the user's model find the wrong labels; a data path keeps the linear model."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers import data, result
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr
from nnrecipe.checks.base import Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.data.label_issues import LabelIssues, LabelIssuesEvidence, LabelIssuesThresholds


def _xor(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Points in [-1, 1]^2, labelled by the sign of x0 * x1: no line separates the classes (linear: ~50%)."""
    x = torch.rand(n, 2, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()


class TupleNet(nn.Module):
    """An MLP whose forward returns `(logits, aux)`, as many real models do."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(x)
        return logits, logits.pow(2).mean()


def _flipped(y: torch.Tensor, count: int, seed: int) -> tuple[torch.Tensor, set[int]]:
    rng = np.random.default_rng(seed)
    wrong = rng.choice(len(y), count, replace=False)
    y = y.clone()
    y[wrong] = 1 - y[wrong]
    return y, set(wrong.tolist())


def _measure(exp: nr.Experiment, budget: str = "quick") -> tuple[LabelIssuesEvidence, Verdict]:
    check = LabelIssues()
    measured = check.measure(CheckContext(exp, budget=budget))
    return measured, check.judge(measured, check.thresholds)


def _found(measured: LabelIssuesEvidence, planted: set[int]) -> tuple[float, float]:
    """(recall, precision) of the flagged train samples against the planted flips."""
    every = measured.flagged or []
    flagged = [f["index"] for f in every if f["split"] == "train"]
    hits = len(planted & set(flagged))
    return hits / len(planted), hits / max(len(every), 1)


def test_the_experiments_model_finds_flips_a_linear_model_cannot() -> None:
    x, y = _xor(800, seed=1)
    xv, yv = _xor(400, seed=2)
    noisy, planted = _flipped(y, 30, seed=3)
    noisy[:40] = -1  # unlabelled samples, skipped by the loss: never scored, never flagged
    planted -= set(range(40))
    exp = nr.Experiment(name="xor", task="classification", train=TensorDataset(x, noisy), val=TensorDataset(xv, yv),
                        model=TupleNet, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), batch_size=32, epochs=20,
                        ignore_index=-1)
    measured, verdict = _measure(exp)
    assert measured.model == "experiment" and measured.linear_accuracy is not None and measured.linear_accuracy < 0.65
    assert measured.model_accuracy is not None and measured.model_accuracy > 0.9 and measured.sampled == 1200 - 40
    recall, precision = _found(measured, planted)
    assert recall >= 0.8 and precision >= 0.5, (recall, precision, verdict.summary)
    assert not any(f["split"] == "train" and f["index"] < 40 for f in measured.flagged or [])
    assert "the experiment's model" in verdict.summary
    assert torch.equal(exp.train.tensors[1], noisy)  # the user's data is left as found


def test_a_data_path_keeps_the_linear_model() -> None:
    x, y = _xor(800, seed=1)
    r = result(data((x.numpy(), y.numpy())), "label-issues")
    assert r.status == "skip" and r.evidence["model"] == "linear" and "quick linear model" in r.summary


def test_judge_skips_when_even_the_experiments_model_is_weak() -> None:
    m = LabelIssuesEvidence(model="experiment", model_accuracy=0.3, majority_accuracy=0.1, linear_accuracy=0.2,
                            sampled=500, of=500, folds=2, epochs=8, issues=90, fraction=0.18, budget="quick")
    v = LabelIssues().judge(m, LabelIssuesThresholds())
    assert v.status == "skip" and "experiment's model" in v.summary and "--budget long" in v.summary
    assert "--budget" not in LabelIssues().judge(replace(m, budget="long"), LabelIssuesThresholds()).summary
    linear = LabelIssues().judge(replace(m, model="linear"), LabelIssuesThresholds())
    assert linear.status == "skip" and linear.summary.startswith("a quick linear model reaches only 30% out of fold "
                                                                  "(majority class 10%)")


@pytest.mark.slow
def test_mnist1d_planted_flips_found_and_the_clean_builtin_passes() -> None:
    """MNIST-1D: a linear model reaches 32%, so the built-in's convnet judges the labels (quick budget)."""
    exp = nr.load_spec("mnist1d")
    measured, verdict = _measure(exp)
    assert measured.model == "experiment" and verdict.status == "pass", verdict.summary
    x, y = exp.train.tensors
    rng = np.random.default_rng(0)
    wrong = rng.choice(len(y), 40, replace=False)
    noisy = y.clone()
    noisy[wrong] = (noisy[wrong] + torch.as_tensor(rng.integers(1, 10, 40))) % 10
    measured, verdict = _measure(exp.replace(train=TensorDataset(x, noisy)))
    recall, precision = _found(measured, set(wrong.tolist()))
    assert recall >= 0.7, (recall, precision, verdict.summary)  # measured: 0.78 recall, 0.23 precision
    listed = sum(c["split"] == "train" and c["index"] in set(wrong.tolist()) for c in measured.candidates or [])
    assert listed >= 18, measured.candidates  # the most confident disagreements are the planted flips
