"""near-duplicates: samples within a split that are the same picture or vector up to small changes.

Found through the profile's near hashes — pHash for images (robust to resizing, recompression, small
brightness changes), SimHash of standardized vectors plus a norm check for vectors and signals — with a
sorted-hash index that never compares all pairs (`nnrecipe.audit.hashing.near_pairs`). Exact copies are left
to `duplicates`. Near copies are a "look at this" — low-resolution data (8x8 digits) has genuine look-alikes —
so this check warns and never fails.

Artifacts: ``pairs`` — up to 8 dicts {a, b, a_input, b_input, a_target, b_target}, shown side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.data.common import LISTED, pair_pictures, profile_of


@dataclass(frozen=True)
class NearDuplicatesThresholds:
    #: warn when more than this fraction of a split has a near copy in the same split
    warn_fraction: float = 0.0


class NearDuplicates(Check):
    """Near duplicates within each split, by perceptual or normalized hashes."""

    id = "near-duplicates"
    stage = "data"
    title = "Near duplicates within a split"
    Thresholds = NearDuplicatesThresholds

    def applies(self, ctx: CheckContext) -> str | None:
        if profile_of(ctx).near is None:
            return "token sequences have no near hash here; exact copies are checked by duplicates"
        return None

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        p = profile_of(ctx)
        a, b = p.near_pairs()
        same = p.split_of[a] == p.split_of[b]
        a, b = a[same], b[same]
        per_split = {}
        for code, name in enumerate(p.split_names):
            mask = p.split_of[a] == code
            involved = len(np.unique(np.r_[a[mask], b[mask]]))
            per_split[name] = {"pairs": int(mask.sum()), "samples": involved,
                               "fraction": involved / max(p.splits[name].read, 1)}
        return {
            "per_split": per_split,
            "hash": "pHash (DCT of a 32x32 grey thumbnail)" if p.data.kind == "image" else "SimHash of standardized vectors",
            "examples": [[p.describe(int(i)), p.describe(int(j))] for i, j in zip(a[:LISTED], b[:LISTED], strict=False)],
            "_artifacts": {"pairs": pair_pictures(p, a, b)},
        }

    def judge(self, m: Mapping[str, Any], t: NearDuplicatesThresholds) -> Verdict:
        flagged = {k: v for k, v in m["per_split"].items() if v["pairs"] and v["fraction"] > t.warn_fraction}
        if not flagged:
            return Verdict("pass", "no near duplicates within any split")
        text = ", ".join(f"{k}: {v['samples']} samples in {v['pairs']} pairs ({v['fraction']:.1%})" for k, v in flagged.items())
        return Verdict("warn", f"near duplicates within splits ({text})",
                       "look at the pairs: resized or re-encoded copies, bursts of video frames or augmented copies "
                       "saved with the data should be deduplicated; genuine look-alikes in low-resolution data are fine")
