"""The built-in experiments: documented splits, no overlap between splits, shapes that fit the task, models
of the family that scale, augmentations that are seeded and keep labels, a GPT that is causal."""

from __future__ import annotations

import math

import pytest
import torch

import nnrecipe as nr

SIZES = {"mnist1d": (3500, 500, 1000), "digits": (1079, 359, 359), "diabetes": (266, 88, 88)}


@pytest.mark.parametrize("name", ["mnist1d", "digits", "diabetes", "chars"])
def test_builtin_loads_with_disjoint_splits(name: str) -> None:
    exp = nr.load_spec(name)
    assert exp.name == name and exp.test is not None and exp.meta["kind"]
    if name in SIZES:
        assert (len(exp.train), len(exp.val), len(exp.test)) == SIZES[name]
    rows = {split: {tuple(x.flatten().tolist()) for x in getattr(exp, split).tensors[0]} for split in ("train", "val", "test")}
    assert not rows["train"] & rows["val"] and not rows["train"] & rows["test"]


@pytest.mark.parametrize("name", ["mnist1d", "digits", "diabetes", "chars"])
def test_model_family_fits_the_task_and_scales(name: str) -> None:
    exp = nr.load_spec(name)
    family = exp.meta["model_family"]
    x, y = exp.train.tensors[0][:4], exp.train.tensors[1][:4]
    out = family()()(x)
    if exp.task == "classification":
        assert out.shape == (4, exp.num_classes)
    elif exp.task == "regression":
        assert out.shape == y.shape
    else:
        assert out.shape == (*y.shape, exp.num_classes)

    def count(model: torch.nn.Module) -> int:
        return sum(p.numel() for p in model.parameters())

    assert count(family(width=2.0)()) > count(family()()) > count(family(width=0.5)())
    assert count(family(depth=1)()) != count(family()())  # depth changes the architecture


@pytest.mark.parametrize("name", ["mnist1d", "digits", "diabetes"])
def test_batch_augment_is_seeded_and_keeps_labels(name: str) -> None:
    exp = nr.load_spec(name)
    augment = exp.meta["batch_augment"]
    x, y = exp.train.tensors[0][:32], exp.train.tensors[1][:32]
    a, ya = augment(x, y, torch.Generator().manual_seed(1))
    b, _ = augment(x, y, torch.Generator().manual_seed(1))
    c, _ = augment(x, y, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c) and torch.equal(ya, y) and a.shape == x.shape


@pytest.mark.parametrize("name", ["mnist1d", "digits"])
def test_classifiers_start_at_the_uniform_loss(name: str) -> None:
    exp = nr.load_spec(name)
    torch.manual_seed(0)
    model = exp.model().eval()
    x, y = exp.train.tensors[0][:512], exp.train.tensors[1][:512]
    loss = float(torch.nn.functional.cross_entropy(model(x), y))
    assert abs(loss - math.log(exp.num_classes)) < 0.1 * math.log(exp.num_classes)


def test_chars_model_is_causal_and_windows_do_not_overlap() -> None:
    exp = nr.load_spec("chars")
    x, y = exp.train.tensors
    assert torch.equal(x[0, 1:], y[0, :-1]) and torch.equal(y[0, -1], x[1, 0])  # contiguous, non-overlapping
    model = exp.model().eval()
    changed = x[:2].clone()
    changed[:, 40] = (changed[:, 40] + 1) % exp.num_classes
    with torch.no_grad():
        diff = (model(x[:2]) - model(changed)).abs().amax(-1)  # (B, T)
    assert float(diff[:, :40].max()) == 0.0 and float(diff[:, 40:].max()) > 0.0


def test_loading_a_builtin_leaves_global_random_state_alone() -> None:
    import numpy as np

    np.random.seed(3)
    expected = np.random.rand()
    np.random.seed(3)
    for name in ("mnist1d", "digits", "diabetes", "chars"):
        nr.load_spec(name)
    assert np.random.rand() == expected
