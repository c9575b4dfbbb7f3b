"""Batches from a user's Dataset, seeded; default losses; the facts about the data every check needs.

Datasets backed by tensors (`TensorDataset`, or anything with a `.tensors` pair) are batched by indexing the
tensors directly, which is many times faster than collating one sample at a time; any other Dataset goes
through a seeded `DataLoader`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from nnrecipe.engine.targets import class_prior, ignore_index, infer_num_classes
from nnrecipe.experiment import Experiment

__all__ = ["Batch", "Batches", "LossFn", "all_targets", "class_prior", "collate", "default_loss", "ignore_index",
           "infer_num_classes", "loss_fn", "make_optimizer", "take", "tensors_of"]

Batch = tuple[torch.Tensor, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def default_loss(task: str, ignore_index: int | None = None) -> LossFn:
    """The standard loss of a task: cross-entropy (skipping `ignore_index` targets), or MSE for regression."""
    if task == "regression":
        return F.mse_loss
    ignore = -100 if ignore_index is None else ignore_index  # -100: cross_entropy's own default
    if task == "sequence":
        return functools.partial(sequence_cross_entropy, ignore_index=ignore)
    return functools.partial(F.cross_entropy, ignore_index=ignore)


def sequence_cross_entropy(output: torch.Tensor, target: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Cross-entropy over the flattened tokens: output (B, T, V), target (B, T)."""
    return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1), ignore_index=ignore_index)


def loss_fn(exp: Experiment) -> LossFn:
    return exp.loss if exp.loss is not None else default_loss(exp.task, ignore_index(exp))


def make_optimizer(exp: Experiment, params: Any) -> torch.optim.Optimizer:
    if exp.optimizer is not None:
        return exp.optimizer(params)
    return torch.optim.Adam(params, lr=3e-4)


def tensors_of(ds: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (inputs, targets) tensors behind a tensor-backed dataset, or None."""
    tensors = getattr(ds, "tensors", None)
    if isinstance(tensors, (tuple, list)) and len(tensors) == 2 and all(isinstance(t, torch.Tensor) for t in tensors):
        return tensors[0], tensors[1]
    if isinstance(ds, torch.utils.data.Subset):
        inner = tensors_of(ds.dataset)
        if inner is not None:
            idx = torch.as_tensor(ds.indices, dtype=torch.long)
            return inner[0][idx], inner[1][idx]
    return None


def collate(samples: list[tuple[Any, Any]]) -> Batch:
    xs, ys = zip(*samples, strict=True)
    return torch.stack([torch.as_tensor(x) for x in xs]), torch.stack([torch.as_tensor(y) for y in ys])


def take(ds: Any, indices: Any) -> Batch:
    """The samples at `indices` as one batch."""
    indices = torch.as_tensor(indices, dtype=torch.long)
    tensors = tensors_of(ds)
    if tensors is not None:
        return tensors[0][indices], tensors[1][indices]
    return collate([ds[int(i)] for i in indices])


def all_targets(ds: Any) -> torch.Tensor:
    """Every target of a dataset, stacked (a fast path for tensor-backed datasets)."""
    tensors = tensors_of(ds)
    if tensors is not None:
        return tensors[1]
    return torch.stack([torch.as_tensor(ds[i][1]) for i in range(len(ds))])


class Batches:
    """An epoch-by-epoch iterable of (input, target) batches, shuffled with its own seeded generator.

    `augment(x, y)` is applied per training sample (the contract's signature). Iterating twice gives two
    different epochs; re-creating with the same seed gives the same sequence of epochs.
    """

    def __init__(
        self,
        ds: Dataset,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int,
        augment: Callable[[Any, Any], tuple[Any, Any]] | None = None,
        drop_last: bool = False,
        batch_augment: Callable[[torch.Tensor, torch.Tensor, torch.Generator], Batch] | None = None,
    ) -> None:
        self.ds = ds
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self.batch_augment = batch_augment
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)
        self.tensors = tensors_of(ds)
        self._loader: DataLoader | None = None

    def reseed(self, seed: int) -> None:
        """Restart the shuffling and augmentation stream from `seed` (what `fit` does at every epoch)."""
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.ds)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        if self.tensors is not None:
            yield from self._tensor_batches(self.tensors)
        else:
            yield from self._loader_batches()

    def _order(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)

    def _tensor_batches(self, tensors: tuple[torch.Tensor, torch.Tensor]) -> Iterator[Batch]:
        inputs, targets = tensors
        order = self._order(len(inputs))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                break
            x, y = inputs[idx], targets[idx]
            if self.augment is not None:
                x, y = collate([self._augment_one(x[i], y[i]) for i in range(len(idx))])
            if self.batch_augment is not None:
                x, y = self.batch_augment(x, y, self.generator)
            yield x, y

    def _augment_one(self, x: Any, y: Any) -> tuple[Any, Any]:
        assert self.augment is not None
        return self.augment(x, y)

    def _loader_batches(self) -> Iterator[Batch]:
        if self._loader is None:
            ds: Dataset = _Augmented(self.ds, self.augment) if self.augment is not None else self.ds
            self._loader = DataLoader(
                ds,
                batch_size=self.batch_size,
                shuffle=self.shuffle,
                drop_last=self.drop_last,
                generator=self.generator,
                collate_fn=collate,
            )
        for x, y in self._loader:
            if self.batch_augment is not None:
                x, y = self.batch_augment(x, y, self.generator)
            yield x, y


class _Augmented(Dataset):
    def __init__(self, ds: Dataset, augment: Callable[[Any, Any], tuple[Any, Any]]) -> None:
        self.ds = ds
        self.augment = augment

    def __len__(self) -> int:
        return len(self.ds)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        x, y = self.ds[i]
        return self.augment(x, y)
