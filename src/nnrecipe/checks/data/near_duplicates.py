"""near-duplicates: samples within a split that are the same picture or vector up to small changes.

Found through the profile's near hashes — pHash for images (robust to resizing, recompression, small
brightness changes), SimHash of standardized vectors for vectors and signals — with a sorted-hash index that
never compares all pairs (`nnrecipe.audit.hashing.near_pairs`). Exact copies are left to `duplicates`.

For vectors "near" is relative to the data's own spread: two samples are near copies when their distance (in
standardized units, from the profile's sketch) is below all but 0.1% of the data's natural nearest-neighbour
distances, and never more than 0.05 RMS standardized units (`nnrecipe.audit.neighbours`). A dense
low-dimensional table (polynomial features of one variable, a few correlated measurements) has thousands of
samples that close to a neighbour under any fixed tolerance; relative to its spacing, only copies are. Even
so a dense table has a few such pairs by chance, so the check warns only when a split holds more samples in
near pairs than that natural rate predicts (by `excess_sigmas` Poisson standard deviations).

Near copies are a "look at this" — low-resolution data (8x8 digits) has genuine look-alikes — so this check
warns and never fails. Token sequences have no near hash: overlapping windows of a text are checked by
split-leakage.

Artifacts: ``pairs`` — up to 8 dicts {a, b, a_input, b_input, a_target, b_target}, shown side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from nnrecipe.checks.base import DataCheck, Verdict, picture
from nnrecipe.checks.context import DataContext
from nnrecipe.checks.data.common import LISTED, Pair, Profile, pair_pictures, profile_of


@dataclass(frozen=True)
class NearDuplicatesThresholds:
    #: warn when more than this fraction of a split has a near copy in the same split ...
    warn_fraction: float = 0.0
    #: ... and more samples than the data's natural rate predicts, by this many Poisson standard deviations
    excess_sigmas: float = 3.0


class SplitNearPairs(TypedDict):
    """One split's near pairs, the samples in them, their share of the split, and how many the data's own
    spacing predicts."""

    pairs: int
    samples: int
    fraction: float
    expected: float


class Scale(TypedDict):
    """What "near" means for vectors (`nnrecipe.audit.neighbours.NearScale`)."""

    limit: float
    cap: float
    spacing: float
    dimension: float
    natural_rate: float


@dataclass(frozen=True)
class NearDuplicatesEvidence:
    per_split: dict[str, SplitNearPairs]
    #: the near hash used
    hash: str
    #: at most LISTED pairs, each side named
    examples: list[list[dict[str, Any]]]
    #: the report's side-by-side pictures
    pairs: list[Pair] = picture()
    #: vectors only: the data's own near-copy distance
    scale: Scale | None = None


class NearDuplicates(DataCheck[NearDuplicatesEvidence, NearDuplicatesThresholds]):
    """Near duplicates within each split, by perceptual or normalized hashes."""

    id = "near-duplicates"
    stage = "data"
    title = "Near duplicates within a split"
    Thresholds = NearDuplicatesThresholds

    def applies(self, ctx: DataContext) -> str | None:
        if profile_of(ctx).near is None:
            return "token sequences have no near hash here; exact copies are checked by duplicates"
        return None

    def measure(self, ctx: DataContext) -> NearDuplicatesEvidence:
        p = profile_of(ctx)
        a, b = p.near_pairs()
        same = p.split_of[a] == p.split_of[b]
        a, b = a[same], b[same]
        scale = p.near_scale()
        return NearDuplicatesEvidence(
            per_split=_per_split(p, a, b, scale.natural_rate if scale is not None else 0.0),
            hash="pHash (DCT of a 32x32 grey thumbnail)" if p.data.kind == "image" else "SimHash of standardized vectors",
            examples=[[p.describe(int(i)), p.describe(int(j))] for i, j in zip(a[:LISTED], b[:LISTED], strict=False)],
            pairs=pair_pictures(p, a, b),
            scale=None if scale is None else {"limit": scale.limit, "cap": scale.cap, "spacing": scale.spacing,
                                              "dimension": round(scale.dimension, 2),
                                              "natural_rate": scale.natural_rate},
        )

    def judge(self, e: NearDuplicatesEvidence, t: NearDuplicatesThresholds) -> Verdict:
        def excess(v: SplitNearPairs) -> bool:
            expected = v["expected"]
            return bool(v["samples"] > expected + t.excess_sigmas * np.sqrt(expected))

        flagged = {k: v for k, v in e.per_split.items() if v["pairs"] and v["fraction"] > t.warn_fraction and excess(v)}
        found = sum(v["samples"] for v in e.per_split.values())
        if not flagged:
            natural = f"; {found} samples in near pairs, as many as the data's spacing predicts" if found else ""
            return Verdict("pass", f"no near duplicates within any split{natural}")
        text = ", ".join(f"{k}: {v['samples']} samples in {v['pairs']} pairs ({v['fraction']:.1%})" for k, v in flagged.items())
        return Verdict("warn", f"near duplicates within splits ({text})",
                       "look at the pairs: resized or re-encoded copies, bursts of video frames or augmented copies "
                       "saved with the data should be deduplicated; genuine look-alikes in low-resolution data are fine")


def _per_split(p: Profile, a: np.ndarray, b: np.ndarray, natural: float) -> dict[str, SplitNearPairs]:
    """Per split: its near pairs (a, b inside one split), the samples they involve, and the natural expectation."""
    per_split: dict[str, SplitNearPairs] = {}
    for code, name in enumerate(p.split_names):
        mask = p.split_of[a] == code
        involved = len(np.unique(np.r_[a[mask], b[mask]]))
        size = p.splits[name].read
        per_split[name] = {"pairs": int(mask.sum()), "samples": involved, "fraction": involved / max(size, 1),
                           "expected": natural * size}
    return per_split
