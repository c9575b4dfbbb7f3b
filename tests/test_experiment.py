"""Experiment validation: every wrong field fails where it is written, naming the field, the expectation and the value."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy


def test_all_contract_fields_are_accepted() -> None:
    exp = toy.classification(
        test=toy.blobs(64, seed=3), loss=nn.functional.cross_entropy,
        scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 5), scheduler_interval="step",
        augment=lambda x, y: (x, y), batch_size=16, epochs=2, num_classes=4, class_names=["a", "b", "c", "d"],
        seed=7, train_step=lambda m, b, o: torch.tensor(0.0), human_labels=[0, 1, 2],
    )
    assert exp.seed == 7 and exp.num_classes == 4


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"epochz": 3}, ["unknown field 'epochz'", "did you mean 'epochs'"]),
        ({"task": "clasification"}, ["'task'", "did you mean 'classification'"]),
        ({"model": toy.mlp()}, ["'model'", "callable", "not an instance"]),
        ({"batch_size": 0}, ["'batch_size'", "positive integer", "0"]),
        ({"scheduler_interval": "batch"}, ["'scheduler_interval'", "'epoch' or 'step'", "'batch'"]),
        ({"train": [1, 2, 3]}, ["'train'", "(input, target) pair", "int"]),
        ({"val": object()}, ["'val'", "Dataset"]),
        ({"loss": 3}, ["'loss'", "callable"]),
        ({"num_classes": 3, "class_names": ["a", "b"]}, ["'class_names'", "3 names", "got 2"]),
        ({"human_labels": list(range(10_000))}, ["'human_labels'", "at most 256"]),
        ({"name": ""}, ["'name'", "non-empty"]),
    ],
)
def test_wrong_fields_name_what_was_expected(changes: dict, words: list[str]) -> None:
    with pytest.raises(nr.SpecError) as info:
        toy.classification(**changes)
    for word in words:
        assert word in str(info.value)


def test_missing_required_field_is_named() -> None:
    with pytest.raises(nr.SpecError, match="missing required field.*model"):
        nr.Experiment(name="x", task="classification", train=toy.blobs(8), val=toy.blobs(8))


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(nr.SpecError, match="keyword arguments only"):
        nr.Experiment("x")  # type: ignore[misc]


def test_task_must_fit_the_data() -> None:
    float_targets = TensorDataset(torch.randn(8, 3), torch.randn(8))
    with pytest.raises(nr.SpecError, match="regression task"):
        toy.classification(train=float_targets)
    with pytest.raises(nr.SpecError, match="classification task"):
        toy.regression(train=toy.blobs(8))
    with pytest.raises(nr.SpecError, match="token ids"):
        toy.sequence(train=toy.blobs(8))


def test_a_dataset_that_raises_is_reported_as_a_spec_error() -> None:
    class Broken(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int):
            raise OSError("disk gone")

    with pytest.raises(nr.SpecError, match="'train'.*OSError: disk gone"):
        toy.classification(train=Broken())


def test_replace_validates_again() -> None:
    exp = toy.classification()
    assert exp.replace(epochs=5).epochs == 5
    with pytest.raises(nr.SpecError, match="unknown field"):
        exp.replace(epoch=5)
