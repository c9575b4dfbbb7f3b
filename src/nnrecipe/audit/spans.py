"""Text that held-out token windows share with the training windows.

Language-model data is usually windows of one length cut from a long text, often overlapping (a stride below
the window length). Split such windows at random and the neighbours of almost every val window land in train:
its first half ends one train window and its second half starts another, so the model has read the val text.
Natural repetition (boilerplate lines, common phrases, license headers) shares a few spans at random offsets,
and rarely both ends of one window — measured on Python standard-library source, 32-byte windows split
contiguously have both ends in train for 4-7% of val windows; split at random with a stride of up to half the
window, for 83-100%.

So, when the samples are windows of one length T (WINDOW_SHARE of them), every window's first and last L
tokens (L = T/2, at least MIN_SPAN) are hashed, and the hashes of every L-token span of the train windows are
kept as a set: distinct hashes only, so overlapping windows cost what their text costs. Past SPAN_BUDGET
distinct hashes the set keeps only the hashes whose low bits are zero, one in `sampling` (adaptive hash
sampling, raised as needed); a window end is then looked up only when its own hash would be kept, the same
random choice on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnrecipe.audit.hashing import span_hashes

#: the shortest span that counts as shared text (shorter runs repeat naturally all the time)
MIN_SPAN = 16
#: samples are windows when at least this share of them has one length
WINDOW_SHARE = 0.9
#: most distinct train span hashes kept before the set is sampled (8 bytes each)
SPAN_BUDGET = 1 << 22


def window_span(lengths: np.ndarray) -> int:
    """The span length L for windows of the lengths seen, or 0 when the samples are not windows of one length."""
    if len(lengths) == 0:
        return 0
    values, counts = np.unique(lengths, return_counts=True)
    common = int(values[np.argmax(counts)])
    if counts.max() < WINDOW_SHARE * len(lengths):
        return 0
    span = max(common // 2, MIN_SPAN)
    return span if span < common else 0


@dataclass
class SpanStore:
    """The distinct hashes of every `length`-token span of the train windows, sampled past SPAN_BUDGET."""

    length: int
    sampling: int = 1
    parts: list[np.ndarray] = field(default_factory=list)
    size: int = 0

    def kept(self, hashes: np.ndarray) -> np.ndarray:
        return (hashes & np.uint64(self.sampling - 1)) == 0

    def add(self, hashes: np.ndarray) -> None:
        part = np.unique(hashes[self.kept(hashes)])
        self.parts.append(part)
        self.size += len(part)
        if self.size > SPAN_BUDGET:
            self._compact()

    def _compact(self) -> None:
        merged = np.unique(np.concatenate(self.parts)) if self.parts else np.zeros(0, np.uint64)
        while len(merged) > SPAN_BUDGET // 2:
            self.sampling *= 2
            merged = merged[self.kept(merged)]
        self.parts, self.size = [merged], len(merged)

    def finish(self) -> np.ndarray:
        self._compact()
        return self.parts[0]


def window_ends(x: np.ndarray | list[np.ndarray], lengths: np.ndarray,
                length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Each sample's first and last span hash (its first `lengths[i]` tokens), whether it has them, and the hashes
    of all its spans. x is (n, T) token ids, or a list of 1-D arrays."""
    n = len(lengths)
    first, last, ok = np.zeros(n, np.uint64), np.zeros(n, np.uint64), lengths >= length
    groups: list[tuple[np.ndarray, np.ndarray | None]]
    if isinstance(x, np.ndarray) and x.ndim == 2:
        groups = [(np.arange(n), x)] if x.shape[1] >= length else []
    else:  # one vectorized pass per distinct length
        groups = [(np.nonzero(lengths == w)[0], None) for w in np.unique(lengths[ok])]
    every: list[np.ndarray] = []
    for members, block in groups:
        if block is None:
            block = np.stack([np.asarray(x[i]).reshape(-1)[: lengths[i]] for i in members])
        hashes = span_hashes(block, length)  # (m, width - length + 1)
        ends = (lengths[members] - length).clip(0, hashes.shape[1] - 1)
        first[members], last[members] = hashes[:, 0], hashes[np.arange(len(members)), ends]
        valid = np.arange(hashes.shape[1])[None, :] <= (lengths[members] - length)[:, None]
        every.append(hashes[valid])
    return first, last, ok, every


def shared_ends(train: np.ndarray, sampling: int, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tested, both): which windows could be looked up, and which have both ends among the train spans."""
    mask = np.uint64(sampling - 1)
    tested = ((first & mask) == 0) & ((last & mask) == 0)
    both = tested & _member(train, first) & _member(train, last)
    return tested, both


def _member(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(values), bool)
    pos = np.searchsorted(sorted_values, values).clip(0, len(sorted_values) - 1)
    return np.asarray(sorted_values[pos] == values)
