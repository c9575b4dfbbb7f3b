"""An Experiment's train / val / test datasets as audit splits, streamed without collating a whole split."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from nnrecipe.audit.sources.core import KINDS, AuditData, Chunk, Kind, Split
from nnrecipe.audit.sources.reader import chunk_ranges, read_samples, stack_if_same, stack_targets


def from_experiment(exp: Any) -> AuditData:
    """The train / val / test datasets of an `Experiment`, streamed without collating a whole split."""
    splits = tuple(_dataset_split(name, ds) for name, ds in (("train", exp.train), ("val", exp.val), ("test", exp.test))
                   if ds is not None)
    x0, _ = exp.train[0]
    kind = _experiment_kind(exp, np.asarray(_numpy(x0)))
    from nnrecipe.engine.data import infer_num_classes

    return AuditData(name=exp.name, task=exp.task, kind=kind, splits=splits, num_classes=infer_num_classes(exp),
                     class_names=exp.class_names, origin="experiment", ignore_index=_ignore_index(exp))


def _ignore_index(exp: Any) -> int | None:
    """The engine's ignore index (the field, the loss's own, a lone negative target, a value the loss skips)."""
    from nnrecipe.engine.targets import ignore_index

    try:
        return ignore_index(exp)
    except Exception:  # targets the engine cannot stack: the preflight reports them; the audit reads what it can
        return exp.ignore_index if isinstance(getattr(exp, "ignore_index", None), int) else None


def _experiment_kind(exp: Any, x0: np.ndarray) -> Kind:
    declared = exp.kind
    if declared in KINDS:
        return declared  # type: ignore[no-any-return]
    if exp.task == "sequence":
        return "text"
    if x0.ndim >= 2:
        return "image"
    return "table"


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()  # type: ignore[no-any-return]
    return np.asarray(value)


def _dataset_split(name: str, ds: Any) -> Split:
    from nnrecipe.engine.data import tensors_of

    tensors = tensors_of(ds)
    if tensors is not None:
        return _tensor_split(name, *tensors)

    def stream_items(size: int) -> Iterator[Chunk]:
        for positions in chunk_ranges(len(ds), size):
            yield _collate_items(name, ds, positions)

    return Split(name, len(ds), stream_items, lambda idx: [_numpy(ds[int(i)][0]) for i in idx])


def _tensor_split(name: str, x_all: Any, y_all: Any) -> Split:
    """A dataset of two tensors: chunks are slices, never one item at a time."""

    def stream_tensors(size: int) -> Iterator[Chunk]:
        for r in chunk_ranges(len(x_all), size):
            yield Chunk(name, np.arange(r.start, r.stop), _numpy(x_all[r.start:r.stop]), _numpy(y_all[r.start:r.stop]))

    return Split(name, len(x_all), stream_tensors, lambda idx: [_numpy(x_all[int(i)]) for i in idx])


def _collate_items(split: str, ds: Any, positions: range) -> Chunk:
    read = read_samples(split, positions, lambda i: _item(ds, i), lambda _i, item: (_numpy(item[0]), _numpy(item[1])))
    return Chunk(split, read.kept, stack_if_same(read.xs), stack_targets(read.ys), failures=read.failures)


def _item(ds: Any, i: int) -> tuple[Any, Any]:
    """One (input, target) pair; the user's dataset raising on it, or giving no pair, makes it a failed sample."""
    x, y = ds[i]
    return x, y
