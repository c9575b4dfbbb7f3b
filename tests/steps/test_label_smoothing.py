"""Label smoothing as a step-4 candidate: it changes only the training loss, and only where it means something."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import toy
from nnrecipe.errors import UsageError
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.regularize import CANDIDATES, RegularizeThresholds
from nnrecipe.steps.training import smoothed_loss, train_config

CPU = torch.device("cpu")


def test_smoothed_loss_matches_torch_and_keeps_the_sequence_shape() -> None:
    g = torch.Generator().manual_seed(0)
    out, y = torch.randn(6, 5, generator=g), torch.randint(0, 5, (6,), generator=g)
    loss = smoothed_loss(toy.classification(), 0.2)
    assert float(loss(out, y)) == pytest.approx(float(F.cross_entropy(out, y, label_smoothing=0.2)))
    # a confident right answer costs more with smoothing than without: the target is no longer one-hot
    confident = torch.tensor([[20.0, 0.0, 0.0]])
    assert float(loss(confident, torch.tensor([0]))) > float(F.cross_entropy(confident, torch.tensor([0]))) + 0.1
    seq = toy.classification(task="sequence", train=_tokens(), val=_tokens(), model=_seq_model)
    out3, y3 = torch.randn(2, 4, 7, generator=g), torch.randint(0, 7, (2, 4), generator=g)
    expected = F.cross_entropy(out3.reshape(-1, 7), y3.reshape(-1), label_smoothing=0.1)
    assert float(smoothed_loss(seq, 0.1)(out3, y3)) == pytest.approx(float(expected))


def test_it_does_not_apply_to_regression_or_to_a_users_own_loss() -> None:
    change = CANDIDATES["label-smoothing"]
    t = RegularizeThresholds()
    cfg = TrainingConfig()
    assert "regression" in str(change(toy.regression(), cfg, t))
    own = toy.classification(loss=lambda out, y: F.cross_entropy(out, y))
    assert "own loss" in str(change(own, cfg, t))
    assert change(toy.classification(), cfg, t) == cfg.replace(label_smoothing=t.label_smoothing)
    assert change(toy.classification(), cfg.replace(label_smoothing=0.1), t) == "already on"
    with pytest.raises(UsageError, match="regression"):
        smoothed_loss(toy.regression(), 0.1)
    with pytest.raises(UsageError, match=r"\[0, 1\)"):
        TrainingConfig(label_smoothing=1.0)


def test_training_with_smoothing_uses_it_and_validation_is_scored_with_the_plain_loss() -> None:
    exp = toy.classification()
    base = TrainingConfig(lr=3e-3, batch_size=32, epochs=6)
    plain = train_config(exp, base, device=CPU, seed=0)
    smooth = train_config(exp, base.replace(label_smoothing=0.3), device=CPU, seed=0)
    # The training loss under smoothing has a floor far above zero (the entropy of the smoothed target) ...
    floor = -(0.775 * math.log(0.775) + 3 * 0.075 * math.log(0.075))  # targets 1 - 0.3 + 0.3/4 and 0.3/4
    assert smooth.records[-1]["train_loss"] > floor > plain.records[-1]["train_loss"]
    # ... while the validation loss is the plain cross-entropy of the kept model, recomputed here
    x, y = exp.val.tensors
    smooth.model.eval()
    with torch.no_grad():
        assert smooth.val["loss"] == pytest.approx(float(F.cross_entropy(smooth.model(x), y)), rel=1e-4)


def _tokens() -> torch.utils.data.TensorDataset:
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 7, (32, 4), generator=g)
    return torch.utils.data.TensorDataset(x, x.roll(-1, dims=1))


def _seq_model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Embedding(7, 8), torch.nn.Linear(8, 7))
