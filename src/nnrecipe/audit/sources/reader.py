"""The shared chunk reader: positions in chunks, samples read one at a time, a sample that raises kept as a `Failure`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnrecipe.audit.sources.core import Failure


def chunk_ranges(count: int, size: int) -> Iterator[range]:
    """The positions 0 .. count - 1, `size` at a time, in order."""
    for start in range(0, count, size):
        yield range(start, min(start + size, count))


@dataclass
class Samples:
    """One chunk's reads: the positions that read, their inputs, targets and paths, and the failures."""

    index: list[int] = field(default_factory=list)
    xs: list[np.ndarray] = field(default_factory=list)
    ys: list[Any] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def kept(self) -> np.ndarray:
        """(n,) int64 positions of the samples that read."""
        return np.asarray(self.index, dtype=np.int64)


def read_samples(split: str, positions: range, read: Callable[[int], Any],
                 convert: Callable[[int, Any], tuple[np.ndarray, Any]],
                 path_of: Callable[[int], str] | None = None) -> Samples:
    """Each position's (input, target): `read(i)` is guarded, so a sample that cannot be read (a truncated file, a
    dataset that raises) is recorded as a Failure and the chunk goes on; `convert(i, raw)` is not guarded.

    `path_of(i)`, when given, names each sample's file, in the failures and in `paths`.
    """
    out = Samples()
    for i in positions:
        try:
            raw = read(i)
        except Exception as exc:  # a bad sample is listed in the report, never an abort
            out.failures.append(Failure(split, i, path_of(i) if path_of else None, f"{type(exc).__name__}: {exc}"))
            continue
        x, y = convert(i, raw)
        out.xs.append(x)
        out.ys.append(y)
        out.index.append(i)
        if path_of is not None:
            out.paths.append(path_of(i))
    return out


def stack_if_same(xs: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """One (n, ...) array when every input has the same shape, else the list itself."""
    if xs and all(x.shape == xs[0].shape for x in xs):
        return np.stack(xs)
    return xs


def stack_targets(ys: list[Any]) -> np.ndarray:
    """Per-sample targets as one array: stacked when they share a shape, else an object array of arrays."""
    if not ys:
        return np.zeros(0)
    arrays = [np.asarray(y) for y in ys]
    if all(a.shape == arrays[0].shape for a in arrays):
        return np.stack(arrays)
    out = np.empty(len(arrays), dtype=object)  # ragged per-sample targets (token sequences of varied length)
    out[:] = arrays
    return out
