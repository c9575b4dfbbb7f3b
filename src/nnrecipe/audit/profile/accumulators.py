"""The profile's running accumulators, merged chunk by chunk: moments, extremes, capped lists, a reservoir, counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: most failures, flagged samples, extremes kept by name (counts are always exact)
KEEP = 50
#: the most extreme values kept exactly per feature and side, for outliers
TOP = 16


@dataclass
class Moments:
    """Running count, mean, M2, min and max per feature, merged chunk by chunk (Chan et al.)."""

    count: int = 0
    n: np.ndarray | None = None  # finite values seen, per feature
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def add(self, values: np.ndarray) -> None:
        """values: (n, features), NaN/Inf removed per feature."""
        finite = np.isfinite(values)
        n_b = finite.sum(axis=0)
        safe = np.where(finite, values, 0.0)
        mean_b = safe.sum(axis=0) / np.maximum(n_b, 1)
        m2_b = (np.where(finite, values - mean_b, 0.0) ** 2).sum(axis=0)
        low_b = np.where(finite, values, np.inf).min(axis=0)
        high_b = np.where(finite, values, -np.inf).max(axis=0)
        if self.mean is None:
            self.count, self.n = int(values.shape[0]), n_b.astype(np.float64)
            self.mean, self.m2, self.low, self.high = mean_b, m2_b, low_b, high_b
            return
        assert self.n is not None and self.m2 is not None
        n_a = self.n
        total = np.maximum(n_a + n_b, 1)
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / total
        self.m2 = self.m2 + m2_b + delta**2 * n_a * n_b / total
        self.n = n_a + n_b
        self.count += int(values.shape[0])
        assert self.low is not None and self.high is not None
        self.low, self.high = np.minimum(self.low, low_b), np.maximum(self.high, high_b)

    @property
    def std(self) -> np.ndarray:
        assert self.m2 is not None and self.n is not None
        return np.sqrt(self.m2 / np.maximum(self.n - 1, 1))


@dataclass
class Extremes:
    """The TOP largest and smallest finite values of each feature, exactly, merged chunk by chunk."""

    high: np.ndarray | None = None  # (TOP, features) descending, -inf where fewer values were seen
    low: np.ndarray | None = None  # (TOP, features) ascending, +inf where fewer

    def add(self, values: np.ndarray) -> None:
        finite = np.isfinite(values)
        high, low = np.where(finite, values, -np.inf), np.where(finite, values, np.inf)
        if self.high is not None and self.low is not None:
            high, low = np.vstack([self.high, high]), np.vstack([self.low, low])
        self.high, self.low = _top(high), -_top(-low)


def _top(values: np.ndarray) -> np.ndarray:
    """The TOP largest values of each column, descending, padded with -inf."""
    if len(values) > TOP:
        values = np.partition(values, len(values) - TOP, axis=0)[len(values) - TOP :]
    values = -np.sort(-values, axis=0)
    return np.vstack([values, np.full((TOP - len(values), values.shape[1]), -np.inf)]) if len(values) < TOP else values


@dataclass
class Capped:
    """An exact count plus the first `KEEP` items, for evidence lists."""

    count: int = 0
    items: list[Any] = field(default_factory=list)

    def add(self, items: list[Any]) -> None:
        self.count += len(items)
        self.items.extend(items[: max(0, KEEP - len(self.items))])


@dataclass
class Reservoir:
    """A uniform random sample of fixed size (Algorithm R, vectorized per chunk)."""

    capacity: int
    rng: np.random.Generator
    seen: int = 0
    index: list[int] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    targets: list[Any] = field(default_factory=list)
    pictures: list[np.ndarray] = field(default_factory=list)
    paths: list[str | None] = field(default_factory=list)

    def add(self, index: np.ndarray, features: np.ndarray, targets: np.ndarray, pictures: Any,
            paths: list[str] | None) -> None:
        n = len(index)
        slot = np.arange(self.seen, self.seen + n)
        free = slot < self.capacity
        draws = self.rng.integers(0, slot + 1)  # item t replaces a random kept item with probability K/(t+1)
        target_slot = np.where(free, slot, draws)
        for k in np.nonzero(target_slot < self.capacity)[0]:
            # copies, not views: a view would keep its whole chunk alive and memory would grow with the data
            item = (int(index[k]), np.array(features[k]), np.array(targets[k]), np.array(pictures[k]),
                    paths[k] if paths else None)
            s = int(target_slot[k])
            columns: tuple[list[Any], ...] = (self.index, self.features, self.targets, self.pictures, self.paths)
            for column, value in zip(columns, item, strict=True):
                if s == len(column):
                    column.append(value)
                else:
                    column[s] = value
        self.seen += n


def add_counts(counts: np.ndarray | None, values: np.ndarray, minlength: int) -> np.ndarray:
    """Running counts of non-negative ids, grown when a larger id appears."""
    values = values[values >= 0]  # a negative id is padding (or a bug other checks report): never a bin
    new = np.bincount(values, minlength=minlength)
    if counts is None:
        return new
    if len(new) > len(counts):
        counts = np.pad(counts, (0, len(new) - len(counts)))
    counts[: len(new)] += new
    return counts


def align(stats: dict[str, int], x: np.ndarray, y: np.ndarray, ignore: int | None) -> None:
    """(n, T) inputs and targets: count where the target is the input shifted left (next token), equal to it,
    or shifted right.

    Only positions t whose target and next target both carry a label count: padding after the end of a
    sequence is no position, and the last real target (whose next input is padding) has nothing to compare.
    """
    if x.shape[1] < 2 or x.shape != y.shape:
        return
    labelled = y != ignore if ignore is not None else np.ones(y.shape, bool)  # (n, T)
    both = labelled[:, :-1] & labelled[:, 1:]
    stats["positions"] += int(both.sum())
    stats["ignored"] += int((~labelled).sum())
    stats["shifted"] += int(((y[:, :-1] == x[:, 1:]) & both).sum())
    stats["copied"] += int(((y[:, :-1] == x[:, :-1]) & both).sum())
    stats["reversed"] += int(((y[:, 1:] == x[:, :-1]) & both).sum())
