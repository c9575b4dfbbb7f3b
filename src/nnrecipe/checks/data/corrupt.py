"""corrupt: unreadable files, NaN/Inf values, empty samples, and constant ones.

Unreadable files (a truncated JPEG, a text file that is not UTF-8, a dataset that raises on an index),
non-finite inputs or targets and empty samples break training outright: fail. Constant samples (a black image,
a flat signal) are often a failed capture or a padding bug: warn.

Artifacts: ``constant`` — up to 8 {sample: {split, index, path?}, input} of constant samples, for a montage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from nnrecipe.audit.profile import SplitProfile, fetch
from nnrecipe.checks.base import DataCheck, Verdict, picture
from nnrecipe.checks.context import DataContext
from nnrecipe.checks.data.common import PICTURED, Profile, profile_of


@dataclass(frozen=True)
class CorruptThresholds:
    #: warn when more than this fraction of a split's samples are constant (every value equal)
    constant_warn_fraction: float = 0.0


class CorruptSplit(TypedDict):
    """One split's corrupt samples: counts, and up to 20 named examples of each kind."""

    size: int
    read: int
    unreadable: int
    unreadable_examples: list[dict[str, Any]]
    nonfinite: int
    nonfinite_examples: list[dict[str, Any]]
    nonfinite_targets: int
    nonfinite_target_examples: list[dict[str, Any]]
    empty: int
    empty_examples: list[dict[str, Any]]
    constant: int
    constant_fraction: float
    constant_examples: list[dict[str, Any]]


@dataclass(frozen=True)
class CorruptEvidence:
    per_split: dict[str, CorruptSplit]
    #: the report's montage: up to PICTURED constant samples, {sample: {split, index, path?}, input}
    constant: list[dict[str, Any]] = picture()


class Corrupt(DataCheck[CorruptEvidence, CorruptThresholds]):
    """Unreadable files, NaN/Inf values, empty or constant samples."""

    id = "corrupt"
    stage = "data"
    title = "Unreadable, non-finite, empty or constant samples"
    Thresholds = CorruptThresholds

    def measure(self, ctx: DataContext) -> CorruptEvidence:
        p = profile_of(ctx)
        per_split: dict[str, CorruptSplit] = {}
        shown: list[dict[str, Any]] = []
        for code, (name, sp) in enumerate(p.splits.items()):
            per_split[name] = _split_counts(p, code, sp)
            for item in sp.constant.items[: max(0, PICTURED - len(shown))]:
                got = fetch(p.data, name, [item["index"]])
                shown.append({"sample": {"split": name, **item}, "input": got[0] if got else None})
        return CorruptEvidence(per_split=per_split, constant=shown)

    def judge(self, e: CorruptEvidence, t: CorruptThresholds) -> Verdict:
        splits: list[Mapping[str, Any]] = list(e.per_split.values())  # read by key name
        totals = {key: sum(s[key] for s in splits)
                  for key in ("unreadable", "nonfinite", "nonfinite_targets", "empty", "constant")}
        broken = [f"{n} {key.replace('_', ' ')}" for key, n in totals.items() if n and key != "constant"]
        if broken:
            first = next((s[f"{k}_examples"][0] for s in splits
                          for k in ("unreadable", "nonfinite", "empty") if s[f"{k}_examples"]), None)
            return Verdict("fail", f"corrupt samples: {', '.join(broken)}" + (f"; first: {first}" if first else ""),
                           "remove or repair them before training: re-download truncated files, find where NaN/Inf "
                           "enter (a division by zero in preprocessing, a missing value read as NaN)")
        worst = max(s["constant_fraction"] for s in splits)
        if totals["constant"] and worst > t.constant_warn_fraction:
            return Verdict("warn", f"{totals['constant']} constant samples (every value equal; up to {worst:.1%} of a split)",
                           "look at them: blank images, flat signals or all-padding rows are usually failed captures")
        return Verdict("pass", "every sample read, finite, non-empty and non-constant")


def _split_counts(p: Profile, code: int, sp: SplitProfile) -> CorruptSplit:
    """One split's counts and examples, from the profile (targets checked here: NaN/Inf regression targets)."""
    targets = p.target[p.split_of == code]
    bad_targets: Any = np.nonzero(~np.isfinite(targets.astype(np.float64)))[0] if targets.dtype.kind == "f" else []
    return {
        "size": sp.size, "read": sp.read,
        "unreadable": sp.failures.count, "unreadable_examples": sp.failures.items[:20],
        "nonfinite": sp.nonfinite.count, "nonfinite_examples": sp.nonfinite.items[:20],
        "nonfinite_targets": len(bad_targets),
        "nonfinite_target_examples": [p.describe(int(i)) for i in np.nonzero(p.split_of == code)[0][bad_targets][:20]],
        "empty": sp.empty.count, "empty_examples": sp.empty.items[:20],
        "constant": sp.constant.count, "constant_fraction": sp.constant.count / max(sp.read, 1),
        "constant_examples": sp.constant.items[:20],
    }
