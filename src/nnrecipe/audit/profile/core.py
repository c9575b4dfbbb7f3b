"""The profile itself: per-split statistics and the per-sample columns every data check reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnrecipe.audit import hashing, spans
from nnrecipe.audit.neighbours import NearScale, near_scale
from nnrecipe.audit.profile.accumulators import Capped, Extremes, Moments, Reservoir
from nnrecipe.audit.sources import AuditData

#: vectors are near duplicates at most when their standardized values differ by this RMS, in feature stds (the
#: data's own spacing may make the limit smaller: see `nnrecipe.audit.neighbours`)
NEAR_RMS = 0.05
#: dimensions of the random projection that estimates distances between candidate near pairs
SKETCH = 16


@dataclass
class SplitProfile:
    """One split's statistics: samples read, flagged samples, moments, extremes, counts and its reservoir."""

    name: str
    size: int
    read: int = 0
    failures: Capped = field(default_factory=Capped)
    nonfinite: Capped = field(default_factory=Capped)
    constant: Capped = field(default_factory=Capped)
    empty: Capped = field(default_factory=Capped)
    moments: Moments = field(default_factory=Moments)
    extremes: Extremes = field(default_factory=Extremes)
    channel_moments: Moments = field(default_factory=Moments)
    class_counts: np.ndarray | None = None
    token_counts: np.ndarray | None = None
    #: next-token alignment, counted over positions whose target and next target both carry a label
    alignment: dict[str, int] = field(default_factory=lambda: {"positions": 0, "shifted": 0, "copied": 0,
                                                                "reversed": 0, "ignored": 0})
    reservoir: Reservoir | None = None


@dataclass
class Profile:
    """Everything the data checks read. Per-sample columns cover every split, concatenated (`split_of`)."""

    data: AuditData
    splits: dict[str, SplitProfile]
    split_of: np.ndarray  # (N,) position of the split in `data.splits`
    index: np.ndarray  # (N,) index within its split
    exact: np.ndarray  # (N,) uint64
    near: np.ndarray | None  # (N,) uint64 or None (tokens)
    target: np.ndarray  # (N,) class id (int64) or a scalar summary of the labelled target (float64)
    target_hash: np.ndarray  # (N,) uint64 of the full target
    properties: dict[str, np.ndarray]  # name -> (N,) float32
    paths: np.ndarray | None  # (N,) object, for path sources
    labelled: np.ndarray | None = None  # (N,) bool: the target is not (entirely) the ignore index
    sketch: np.ndarray | None = None  # (N, SKETCH) float32 random projection of standardized vectors
    features: int = 0  # input features per sample (vectors and signals), for the sketch's distance scale
    chunks: int = 0
    seed: int = 0
    #: token windows: span length (0: not windows), each window's first/last span hash and whether it has them
    span_length: int = 0
    span_first: np.ndarray | None = None
    span_last: np.ndarray | None = None
    span_ok: np.ndarray | None = None
    train_spans: np.ndarray | None = None  # sorted distinct span hashes of the train windows
    span_sampling: int = 1  # 1 in span_sampling span hashes kept (1: all)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.labelled is None:
            self.labelled = np.ones(len(self.target), bool)

    @property
    def split_names(self) -> list[str]:
        return [s.name for s in self.data.splits]

    def describe(self, i: int) -> dict[str, Any]:
        """One sample, named for evidence: its split, index and path when it has one."""
        out: dict[str, Any] = {"split": self.split_names[int(self.split_of[i])], "index": int(self.index[i])}
        if self.paths is not None and self.paths[i] is not None:
            out["path"] = str(self.paths[i])
        return out

    def exact_groups(self) -> list[np.ndarray]:
        """Rows sharing an exact hash (computed once, shared by duplicates, leakage and conflicts)."""
        if "exact_groups" not in self._memo:
            self._memo["exact_groups"] = hashing.groups_of(self.exact)
        return self._memo["exact_groups"]  # type: ignore[no-any-return]

    def near_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Near pairs that are not exact copies (computed once)."""
        if "near_pairs" not in self._memo:
            self._memo["near_pairs"] = self._near_pairs()
        return self._memo["near_pairs"]  # type: ignore[no-any-return]

    def near_scale(self) -> NearScale | None:
        """The distance under which two vectors are near copies for this data (None for images and tokens)."""
        if self.sketch is None:
            return None
        if "near_scale" not in self._memo:
            self._memo["near_scale"] = near_scale(self.sketch, self.exact, cap=NEAR_RMS * np.sqrt(max(self.features, 1)),
                                                  max_dimension=min(max(self.features, 1), SKETCH), seed=self.seed)
        return self._memo["near_scale"]  # type: ignore[no-any-return]

    def _near_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        if self.near is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        tiebreak = self.sketch[:, 0] if self.sketch is not None else None
        a, b = hashing.near_pairs(self.near, tiebreak)
        keep = self.exact[a] != self.exact[b]
        scale = self.near_scale()
        if self.sketch is not None and scale is not None:
            # SimHash only proposes (it sees angles); the sketch estimates the distance itself (Johnson-Lindenstrauss),
            # judged against the data's own spacing (`nnrecipe.audit.neighbours`)
            gap = np.linalg.norm(self.sketch[a] - self.sketch[b], axis=1)
            keep &= gap <= scale.limit
        return a[keep], b[keep]

    def window_overlap(self, split: str) -> dict[str, Any] | None:
        """For token windows: how many of a held-out split's windows have both ends among the train spans."""
        if not self.span_length or self.train_spans is None or self.span_first is None or self.span_last is None:
            return None
        assert self.span_ok is not None
        rows = np.nonzero((self.split_of == self.split_names.index(split)) & self.span_ok)[0]
        tested, both = spans.shared_ends(self.train_spans, self.span_sampling, self.span_first[rows], self.span_last[rows])
        return {"span": self.span_length, "windows": int(len(rows)), "tested": int(tested.sum()),
                "overlapping": int(both.sum()), "rows": rows[both], "sampling": self.span_sampling}


def fetch(data: AuditData, split: str, positions: list[int]) -> list[Any] | None:
    """The inputs at `positions` of one split, for pictures of flagged pairs; None where the source cannot seek."""
    source = data.split(split)
    if source is None or source.fetch is None:
        return None
    return source.fetch(positions)


def inputs_of(profile: Profile, rows: Sequence[int] | np.ndarray) -> list[Any]:
    """The inputs of the given profile rows (None where the source cannot seek), one random access each."""
    out: list[Any] = []
    for row in rows:
        split = profile.split_names[int(profile.split_of[row])]
        got = fetch(profile.data, split, [int(profile.index[row])])
        out.append(got[0] if got else None)
    return out
