"""duplicates: exact copies of a sample inside one split.

A sample's exact hash covers its bytes and shape, so equal hashes are identical inputs. Copies inflate what a
split seems to hold and, in train, weigh some samples twice ("One time I discovered that the data contained
duplicate examples").

Artifacts: ``pairs`` — up to 8 dicts {a, b: {split, index, path?}, a_input, b_input, a_target, b_target}
(inputs are arrays, or None where the source cannot seek), shown side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from nnrecipe.checks.base import DataCheck, Verdict, picture
from nnrecipe.checks.context import DataContext
from nnrecipe.checks.data.common import LISTED, Pair, Profile, pair_pictures, profile_of


@dataclass(frozen=True)
class DuplicatesThresholds:
    #: warn when this fraction of a split (or more) is a redundant copy; 0 warns on any copy
    warn_fraction: float = 0.0
    #: fail when at least this fraction of a split is redundant copies: a loader repeating samples
    fail_fraction: float = 0.5


class SplitCopies(TypedDict):
    """One split's exact copies: samples beyond the first of each group, groups, samples read, and the share."""

    redundant: int
    groups: int
    size: int
    fraction: float


@dataclass(frozen=True)
class DuplicatesEvidence:
    per_split: dict[str, SplitCopies]
    #: the largest groups of copies (at most LISTED), each as up to 5 named samples
    examples: list[list[dict[str, Any]]]
    #: the report's side-by-side pictures: one pair of each of the largest groups
    pairs: list[Pair] = picture()


class Duplicates(DataCheck[DuplicatesEvidence, DuplicatesThresholds]):
    """Exact duplicates within each split."""

    id = "duplicates"
    stage = "data"
    title = "Exact duplicates within a split"
    Thresholds = DuplicatesThresholds

    def measure(self, ctx: DataContext) -> DuplicatesEvidence:
        p = profile_of(ctx)
        within = _groups_within_splits(p)
        per_split: dict[str, SplitCopies] = {name: {"redundant": 0, "groups": 0, "size": sp.read, "fraction": 0.0}
                                             for name, sp in p.splits.items()}
        for members in within:
            name = p.split_names[int(p.split_of[members[0]])]
            per_split[name]["redundant"] += len(members) - 1
            per_split[name]["groups"] += 1
        for entry in per_split.values():
            entry["fraction"] = entry["redundant"] / max(entry["size"], 1)
        within.sort(key=len, reverse=True)
        a = np.array([g[0] for g in within], dtype=np.int64)
        b = np.array([g[1] for g in within], dtype=np.int64)
        return DuplicatesEvidence(per_split=per_split,
                                  examples=[[p.describe(int(i)) for i in g[:5]] for g in within[:LISTED]],
                                  pairs=pair_pictures(p, a, b))

    def judge(self, e: DuplicatesEvidence, t: DuplicatesThresholds) -> Verdict:
        worst_name, worst = max(e.per_split.items(), key=lambda kv: kv[1]["fraction"])
        total = sum(s["redundant"] for s in e.per_split.values())
        text = ", ".join(f"{k}: {s['redundant']} ({s['fraction']:.1%})" for k, s in e.per_split.items())
        fix = ("remove the copies (keep one of each) or find where they come from: a loader that repeats files, "
               "augmented copies saved beside the originals, the same record collected twice")
        if worst["fraction"] >= t.fail_fraction:
            return Verdict("fail", f"{worst['fraction']:.0%} of {worst_name} are exact copies of other samples ({text})", fix)
        if total > 0 and worst["fraction"] >= t.warn_fraction:
            return Verdict("warn", f"{total} redundant exact copies within splits ({text})", fix)
        return Verdict("pass", "no exact duplicates within any split")


def _groups_within_splits(p: Profile) -> list[np.ndarray]:
    """The profile rows of each group of exact copies inside one split (a group across splits is leakage)."""
    within = []
    for group in p.exact_groups():
        for code in np.unique(p.split_of[group]):
            members = group[p.split_of[group] == code]
            if len(members) > 1:
                within.append(members)
    return within
