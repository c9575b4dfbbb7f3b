"""In-memory arrays as audit data (`from_arrays`, and the arrays of an .npz): the task and kind guessed from them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from nnrecipe.audit.sources.core import AuditData, Chunk, Kind, Split
from nnrecipe.audit.sources.reader import chunk_ranges


def from_arrays(name: str, splits: dict[str, tuple[np.ndarray, np.ndarray]], *, task: str | None = None,
                kind: Kind | None = None, num_classes: int | None = None,
                ignore_index: int | None = None) -> AuditData:
    """In-memory arrays per split, {"train": (x, y), "val": (x, y)}: for tests, benchmarks and notebooks.

    `ignore_index` is the target value the loss skips; when None, a single negative target value is taken as one.
    """
    x0, y0 = splits["train"]
    guessed_task, guessed_kind = array_task(x0, y0)
    task = task or guessed_task
    if ignore_index is None:
        ignore_index = inferred_ignore_index(task, [y for _, y in splits.values()])
    if num_classes is None and task != "regression":
        num_classes = int(max(np.max(y) for _, y in splits.values())) + 1
    return AuditData(name=name, task=task, kind=kind or guessed_kind,
                     splits=tuple(array_split(n, x, y) for n, (x, y) in splits.items()),
                     num_classes=num_classes, origin="arrays", ignore_index=ignore_index)


def inferred_ignore_index(task: str, targets: Sequence[np.ndarray]) -> int | None:
    """The one negative value integer class or token targets hold, if any: no class id is negative, so a single
    negative value can only be padding the loss skips (-1 in minGPT, -100 in Hugging Face)."""
    if task == "regression":
        return None
    negative: set[int] = set()
    for y in targets:
        y = np.asarray(y)
        if y.dtype == object:
            y = np.concatenate([np.asarray(v).reshape(-1) for v in y]) if len(y) else np.zeros(0, np.int64)
        if not np.issubdtype(y.dtype, np.integer):
            return None
        negative.update(np.unique(y[y < 0]).tolist())
    return int(negative.pop()) if len(negative) == 1 else None


def array_task(x: np.ndarray, y: np.ndarray) -> tuple[str, Kind]:
    """The task and kind that arrays imply: integer windows with targets of their shape are sequences."""
    integer_y = np.issubdtype(y.dtype, np.integer)
    if integer_y and np.issubdtype(x.dtype, np.integer) and x.ndim == 2 and y.shape == x.shape:
        return "sequence", "text"
    kind: Kind = "image" if x.ndim >= 3 else "table"
    return ("classification" if integer_y and y.ndim == 1 else "regression"), kind


def array_split(name: str, x: np.ndarray, y: np.ndarray) -> Split:
    """One split of in-memory arrays, streamed as slices."""
    return Split(name, len(x), _array_stream(name, x, y), lambda idx: [np.asarray(x[int(i)]) for i in idx])


def _array_stream(split: str, x: np.ndarray, y: np.ndarray) -> Callable[[int], Iterator[Chunk]]:
    def stream(size: int) -> Iterator[Chunk]:
        for r in chunk_ranges(len(x), size):
            yield Chunk(split, np.arange(r.start, r.stop), np.asarray(x[r.start:r.stop]), np.asarray(y[r.start:r.stop]))

    return stream
