"""split-leakage: samples shared between train, val and test, exactly or nearly.

A val or test sample that is also in train measures memory, not generalization. Exact sharing is found by
the exact hash; near sharing (a resized, recompressed or slightly noisy copy) by the near hash index of the
profile (pHash for images, SimHash for vectors and signals; see `nnrecipe.audit.hashing`).

Artifacts: ``pairs`` — up to 8 dicts {a, b, a_input, b_input, a_target, b_target} for leaked pairs
(exact first), shown side by side.
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
class SplitLeakageThresholds:
    #: fail when at least this fraction of val or test has an exact copy in train (or test in val)
    exact_fail_fraction: float = 0.01
    #: warn when a held-out split shares more than this fraction with train, exactly or nearly
    warn_fraction: float = 0.0


class SplitLeakage(Check):
    """Samples shared between train, val and test (exact and near)."""

    id = "split-leakage"
    stage = "data"
    title = "Samples shared between splits"
    Thresholds = SplitLeakageThresholds

    def applies(self, ctx: CheckContext) -> str | None:
        if len(profile_of(ctx).splits) < 2:
            return "the data has a single split: nothing to leak between (put train/ val/ test/ folders or a split column)"
        return None

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        p = profile_of(ctx)
        exact_a, exact_b = _exact_cross(p)
        near_a, near_b = p.near_pairs()
        cross = p.split_of[near_a] != p.split_of[near_b]
        near_a, near_b = near_a[cross], near_b[cross]
        per_pair: dict[str, dict[str, int]] = {}
        for kind, a, b in (("exact", exact_a, exact_b), ("near", near_a, near_b)):
            for name_a, name_b, count in _count_pairs(p, a, b):
                per_pair.setdefault(f"{name_a}-{name_b}", {"exact": 0, "near": 0})[kind] = count
        held = {name: sp.read for name, sp in p.splits.items() if name != "train"}
        fractions = {key: {k: v / max(held[key.split("-")[1]], 1) for k, v in counts.items()}
                     for key, counts in per_pair.items()}
        a_all, b_all = np.r_[exact_a, near_a], np.r_[exact_b, near_b]
        return {
            "shared": per_pair,
            "fractions": fractions,
            "exact_examples": [[p.describe(int(i)), p.describe(int(j))] for i, j in zip(exact_a[:LISTED], exact_b[:LISTED], strict=False)],
            "near_examples": [[p.describe(int(i)), p.describe(int(j))] for i, j in zip(near_a[:LISTED], near_b[:LISTED], strict=False)],
            "_artifacts": {"pairs": pair_pictures(p, a_all, b_all)},
        }

    def judge(self, m: Mapping[str, Any], t: SplitLeakageThresholds) -> Verdict:
        if not m["shared"]:
            return Verdict("pass", "no sample is shared between splits, exactly or nearly")
        text = "; ".join(f"{k}: {v['exact']} exact, {v['near']} near" for k, v in m["shared"].items())
        fix = ("remove from val/test every sample that also occurs in train (dedupe before splitting, and split by "
               "source — patient, user, video — when one source yields many similar samples)")
        worst = max((f["exact"] for f in m["fractions"].values()), default=0.0)
        if worst >= t.exact_fail_fraction:
            return Verdict("fail", f"{worst:.1%} of a held-out split is an exact copy of another split's samples ({text})", fix)
        largest = max((f["exact"] + f["near"] for f in m["fractions"].values()), default=0.0)
        if largest > t.warn_fraction:
            return Verdict("warn", f"samples shared between splits ({text})", fix)
        return Verdict("pass", f"no notable sharing between splits ({text})")


def _exact_cross(p: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (earlier split's sample, later split's sample) with the same exact hash."""
    a, b = [], []
    for group in p.exact_groups():
        codes = p.split_of[group]
        if len(np.unique(codes)) < 2:
            continue
        for code in np.unique(codes)[1:]:
            anchor = group[codes < code]
            for member in group[codes == code]:
                a.append(anchor[0])
                b.append(member)
    return np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)


def _count_pairs(p: Any, a: np.ndarray, b: np.ndarray) -> list[tuple[str, str, int]]:
    """How many distinct later-split samples are involved, per (earlier split, later split)."""
    out = []
    sa, sb = np.minimum(p.split_of[a], p.split_of[b]), np.maximum(p.split_of[a], p.split_of[b])
    later = np.where(p.split_of[a] > p.split_of[b], a, b)
    for x in np.unique(sa):
        for y in np.unique(sb[sa == x]):
            mask = (sa == x) & (sb == y)
            out.append((p.split_names[int(x)], p.split_names[int(y)], int(len(np.unique(later[mask])))))
    return out
