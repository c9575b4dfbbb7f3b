"""The audited data's types: an `AuditData` of named `Split`s, each streamed as `Chunk`s that record `Failure`s."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnrecipe.experiment import KINDS, Kind  # one vocabulary of kinds: the experiment's, the audit's, the report's

__all__ = ["CHUNK", "KINDS", "AuditData", "Chunk", "Failure", "Kind", "Split"]
CHUNK = 4096


@dataclass(frozen=True)
class Failure:
    """A sample that could not be read: where it is and what went wrong."""

    split: str
    index: int
    path: str | None
    message: str


@dataclass
class Chunk:
    """Consecutive samples of one split. `x` is an array (n, ...) when the samples share a shape, else a list."""

    split: str
    index: np.ndarray  # (n,) positions in the split
    x: np.ndarray | list[np.ndarray]
    y: np.ndarray  # (n,) class ids or values, or (n, ...) per-sample targets
    paths: list[str] | None = None
    failures: list[Failure] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.index)


@dataclass(frozen=True)
class Split:
    """One split: its size and a function streaming its chunks."""

    name: str
    size: int
    stream: Callable[[int], Iterator[Chunk]]
    #: random access to a few inputs by position, for pictures of flagged samples; None if the source cannot seek
    fetch: Callable[[Sequence[int]], list[Any]] | None = None

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[Chunk]:
        return self.stream(chunk_size)


@dataclass(frozen=True)
class AuditData:
    """What the data checks audit: named splits streamed in chunks, the task and the kind of inputs."""

    name: str
    task: str  # classification | regression | sequence
    kind: Kind
    splits: tuple[Split, ...]
    num_classes: int | None = None
    class_names: Sequence[str] | None = None
    feature_names: Sequence[str] | None = None
    origin: str = "experiment"
    #: the target value the loss skips (padding, unlabelled samples), or None
    ignore_index: int | None = None

    def split(self, name: str) -> Split | None:
        return next((s for s in self.splits if s.name == name), None)
