"""The ignore index (padding targets) is found from every place real code states it, and left out everywhere."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr
from nnrecipe.engine.loop import accuracy, predicted_classes
from nnrecipe.engine.outputs import prediction
from nnrecipe.engine.targets import class_prior, ignore_index, infer_num_classes
from nnrecipe.errors import SpecError


def padded(pad: int, n: int = 64, length: int = 8, vocab: int = 10) -> TensorDataset:
    """Rows of token ids whose targets are padded with `pad` after a random end, makemore-style."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(1, vocab, (n, length), generator=gen)
    y = x % (vocab - 1) + 1  # a token-wise rule the model can learn
    ends = torch.randint(2, length, (n,), generator=gen)
    y[torch.arange(length)[None, :] >= ends[:, None]] = pad
    return TensorDataset(x, y)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed, self.head = nn.Embedding(10, 8), nn.Linear(8, 10)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids))


def sequence(pad: int, **fields: object) -> nr.Experiment:
    ds = padded(pad)
    return nr.Experiment(name="pad", task="sequence", train=ds, val=ds, model=Tiny, **fields)  # type: ignore[arg-type]


def seq_ce(out: torch.Tensor, y: torch.Tensor, ignore: int) -> torch.Tensor:
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=ignore)


def test_a_negative_target_is_padding_and_no_class() -> None:
    exp = sequence(-1)
    assert ignore_index(exp) == -1
    assert infer_num_classes(exp) == 10
    prior = class_prior(exp)
    assert prior[0] == 0 and abs(float(prior.sum()) - 1) < 1e-6


def test_declared_by_field_module_partial_and_measured_in_a_lambda() -> None:
    assert ignore_index(sequence(0, ignore_index=0)) == 0
    module_loss = nn.CrossEntropyLoss(ignore_index=0)
    assert ignore_index(sequence(0, loss=lambda o, y: module_loss(o.reshape(-1, 10), y.reshape(-1)))) == 0
    assert ignore_index(sequence(0, loss=functools.partial(seq_ce, ignore=0))) == 0
    # a pad id skipped inside a lambda: found by measuring that the loss does not read those positions
    assert ignore_index(sequence(0, loss=lambda o, y: seq_ce(o, y, 0))) == 0
    # the same data with a loss that reads every position: nothing is skipped
    assert ignore_index(sequence(0, loss=lambda o, y: seq_ce(o, y, -100))) is None


def test_the_field_is_validated() -> None:
    with pytest.raises(SpecError, match="ignore_index"):
        sequence(-1, ignore_index="pad")


def test_accuracy_counts_only_labelled_positions_and_reads_one_binary_logit() -> None:
    y = torch.tensor([[1, 2, -1]])
    out = torch.zeros(1, 3, 4)
    out[0, 0, 1] = out[0, 1, 2] = out[0, 2, 0] = 1.0
    assert accuracy(out, y, -1) == 1.0
    logits = torch.tensor([[2.0], [-1.0], [0.5]])
    assert predicted_classes(logits, torch.tensor([1, 0, 0])).tolist() == [1, 0, 1]


def test_predictions_are_read_out_of_tuples_dicts_and_model_outputs() -> None:
    logits = torch.randn(2, 3)

    class ModelOutput:
        def __init__(self) -> None:
            self.loss, self.logits = None, logits

    assert prediction((logits, None)) is logits
    assert prediction({"loss": torch.tensor(1.0), "logits": logits}) is logits
    assert prediction(ModelOutput()) is logits
    with pytest.raises(SpecError, match="expected a tensor"):
        prediction({"hidden": logits})


def test_every_skeleton_check_runs_on_padded_targets_without_error() -> None:
    adam = lambda p: torch.optim.Adam(p, lr=1e-2)  # noqa: E731
    result = nr.check(sequence(-1, batch_size=16, optimizer=adam), stages=("skeleton",), device="cpu")
    broken = {c.id: c.summary for c in result.checks if c.status in ("error", "fail")}
    assert not broken, broken


def test_a_loss_that_reads_no_output_does_not_make_a_class_look_like_padding() -> None:
    clamped = lambda o, y: seq_ce(o, y, -100).clamp(max=0.5)  # noqa: E731  (flat where it is clamped)
    assert ignore_index(sequence(0, loss=clamped)) is None
