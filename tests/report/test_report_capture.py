"""The training recorders: they see the real training, record what the report draws, and change nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import toy
from conftest import image_experiment
from nnrecipe.engine.loop import fit
from nnrecipe.engine.observe import collect, training_recorders
from nnrecipe.engine.observe.layers import is_sampled
from nnrecipe.report.figures.inputs import decode, guess_kind
from nnrecipe.seeding import seeded

CPU = torch.device("cpu")


def _train(exp: Any, *, recorders: bool) -> tuple[Any, dict[str, Any], torch.nn.Module]:
    chosen = training_recorders(exp) if recorders else []
    with seeded(0):
        model = exp.model()
    history = fit(model, exp, device=CPU, evaluate_on=exp.val, callbacks=chosen)
    return history, collect(chosen), model


def test_recording_does_not_change_the_training() -> None:
    plain, _, plain_model = _train(toy.classification(), recorders=False)
    recorded, _, recorded_model = _train(toy.classification(), recorders=True)
    assert plain.step_losses == recorded.step_losses
    for a, b in zip(plain_model.parameters(), recorded_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_every_hook_is_removed_at_the_end() -> None:
    _, _, model = _train(toy.classification(), recorders=True)
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks and not module._backward_hooks


def test_the_input_is_caught_after_augmentation() -> None:
    # A marker written by the training-only augmentation must show in the captured batch: the hook sees what
    # the model sees, not what the dataset holds.
    def mark(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.clone()
        x[0] = 42.0
        return x, y

    _, art, _ = _train(toy.classification(augment=mark), recorders=True)
    batch = art["input_batch"]
    assert np.all(batch["x"][:, 0] == 42.0)
    assert batch["stats"]["max"] == 42.0 and batch["stats"]["shape"] == [32, 8]
    assert batch["y"].shape == (32,)


def test_the_input_batch_has_its_stats_and_kind() -> None:
    _, art, _ = _train(image_experiment(), recorders=True)
    batch = art["input_batch"]
    assert batch["kind"] == "image" and batch["x"].shape == (16, 1, 8, 8)
    stats = batch["stats"]
    assert stats["dtype"] == "float32" and stats["min"] < stats["mean"] < stats["max"] and stats["std"] > 0


def test_prediction_dynamics_has_one_row_per_epoch_and_one_before() -> None:
    history, art, _ = _train(toy.classification(), recorders=True)
    dyn = art["prediction_dynamics"]
    assert dyn["epochs"] == [-1, 0, 1, 2]
    outputs = dyn["outputs"]  # (E, N, C) class probabilities
    assert outputs.shape == (4, 16, 4)
    assert np.allclose(outputs.sum(-1), 1, atol=1e-5)
    p_true = outputs[:, np.arange(16), dyn["targets"]]
    assert p_true[-1].mean() > p_true[0].mean()  # a learnable toy: the true class gains probability


def test_layer_stats_sample_steps_and_keep_first_layer_weights() -> None:
    _, art, model = _train(image_experiment(), recorders=True)
    stats = art["layer_stats"]
    steps = [r["step"] for r in stats["records"]]
    assert steps == [s for s in range(24) if is_sampled(s)]  # 3 epochs x 8 steps
    first = stats["first_layer"]
    assert first["type"] == "Conv2d" and first["init"].shape == (4, 1, 3, 3)
    assert np.allclose(first["final"], model[0].weight.detach().numpy())
    assert not np.allclose(first["init"], first["final"])
    relu = next(v for k, v in stats["records"][0]["activations"].items() if "ReLU" in k)
    assert 0 < relu["zero_fraction"] < 1
    grads = stats["records"][0]["gradients"]
    assert all(row["update_ratio"] > 0 and row["grad_std"] > 0 for row in grads.values())


def test_decode_token_ids_with_any_vocabulary_shape() -> None:
    assert decode([0, 1, 2], "abc") == "abc"
    assert decode([0, 1], ["he", "llo"]) == "hello"
    assert decode([1, 0], {"a": 0, "b": 1}) == "ba"
    assert decode([1, 0], {0: "a", 1: "b"}) == "ba"
    assert decode([5], "abc") == "�"
    assert decode([3, 4], None) == "3 4"


def test_guess_kind_from_the_tensor() -> None:
    assert guess_kind(np.zeros((4, 1, 28, 28), np.float32)) == "image"
    assert guess_kind(np.zeros((4, 16), np.int64)) == "text"
    assert guess_kind(np.zeros((4, 40), np.float32)) == "signal"
    assert guess_kind(np.zeros((4, 8), np.float32)) == "table"
