"""class-balance: how many samples each class has in each split.

Measured from the profile's class counts (every sample, one pass). A class that appears in val or test but
never in train cannot be learned (typically a split of data sorted by label); a class missing from val cannot
be measured; a large ratio between the biggest and smallest class changes what "good accuracy" means; a val
distribution far from train's (a chi-square test) means the two splits were not drawn alike — by half the
probability mass or more (total variation), val holds other classes than train and the check fails.

Artifacts: ``counts`` {split: (C,) int array}, ``class_names`` (list of str or None) — for a grouped bar chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.checks.base import CannotRun, DataCheck, Verdict, picture
from nnrecipe.checks.context import DataContext
from nnrecipe.checks.data.common import Profile, profile_of, task_of


@dataclass(frozen=True)
class ClassBalanceThresholds:
    #: warn when the largest train class has this many times the samples of the smallest
    imbalance_warn: float = 5.0
    #: warn when val's class distribution differs from train's with a chi-square p-value below this ...
    shift_p_value: float = 1e-6
    #: ... and by at least this total variation distance (a tiny but significant shift is not worth a look)
    shift_distance: float = 0.1
    #: fail when the shift reaches this total variation distance: val drawn from other classes than train
    #: (the rows of a file sorted by label, split by position), not a sampling accident
    shift_fail_distance: float = 0.5


@dataclass(frozen=True)
class ClassBalanceEvidence:
    #: samples per class id in each split (every split padded to the same number of classes)
    counts: dict[str, list[int]]
    #: the largest train class over the smallest present one (inf when train holds no class)
    imbalance_ratio: float
    #: per held-out split: the classes it holds that train never has, and the train classes it lacks
    missing_from_train: dict[str, list[int]]
    missing_from_split: dict[str, list[int]]
    #: classes with no sample in any split
    never_seen: list[int]
    #: the report's grouped bar chart: (C,) int arrays per split, and the class names (None: unnamed)
    count_arrays: dict[str, np.ndarray] = picture()
    class_names: list[str] | None = picture()
    #: val against train (when val exists and train has two classes or more): chi-square p-value and total
    #: variation distance between the class distributions
    val_p_value: float | None = None
    val_distance: float | None = None


class ClassBalance(DataCheck[ClassBalanceEvidence, ClassBalanceThresholds]):
    """Counts per class and split, imbalance ratio, classes missing from a split."""

    id = "class-balance"
    stage = "data"
    title = "Class balance per split"
    Thresholds = ClassBalanceThresholds

    def applies(self, ctx: DataContext) -> str | None:
        if task_of(ctx) != "classification":
            return f"a {task_of(ctx)} task has no classes to count"
        return None

    def measure(self, ctx: DataContext) -> ClassBalanceEvidence:
        profile = profile_of(ctx)
        counts = _padded_counts(profile)
        width = max(len(c) for c in counts.values())
        train = counts.get("train", np.zeros(width, int))
        present = [c for c in range(width) if train[c] > 0]
        held_out = [k for k in counts if k != "train"]
        p_value, distance = _shift(train, counts["val"]) if "val" in counts and len(present) > 1 else (None, None)
        return ClassBalanceEvidence(
            counts={k: v.tolist() for k, v in counts.items()},
            imbalance_ratio=float(train[present].max() / train[present].min()) if present else float("inf"),
            missing_from_train={k: [c for c in range(width) if counts[k][c] > 0 and train[c] == 0] for k in held_out},
            missing_from_split={k: [c for c in present if counts[k][c] == 0] for k in held_out},
            never_seen=[c for c in range(width) if sum(v[c] for v in counts.values()) == 0],
            count_arrays=counts,
            class_names=list(profile.data.class_names or []) or None,
            val_p_value=p_value,
            val_distance=distance,
        )

    def pictures(self, e: ClassBalanceEvidence) -> Mapping[str, Any]:
        # the bar chart's counts are the arrays; the document's `counts` are the same numbers as lists
        return {"counts": e.count_arrays, "class_names": e.class_names}

    def judge(self, e: ClassBalanceEvidence, t: ClassBalanceThresholds) -> Verdict:
        failed = _misdrawn(e, t)
        if failed is not None:
            return failed
        notes, fixes = _notes(e, t)
        if notes:
            return Verdict("warn", "; ".join(notes), "; ".join(fixes))
        n = len(e.counts.get("train", []))
        return Verdict("pass", f"{n} classes present in every split; train imbalance {e.imbalance_ratio:.1f}:1")


def _padded_counts(profile: Profile) -> dict[str, np.ndarray]:
    """Each split's class counts, padded to the same number of classes."""
    counts = {name: sp.class_counts for name, sp in profile.splits.items() if sp.class_counts is not None}
    if not counts or not any(int(np.sum(c)) for c in counts.values()):
        raise CannotRun("no sample could be read, so there are no classes to count (see corrupt)")
    width = max(len(c) for c in counts.values())
    return {k: np.pad(v, (0, width - len(v))) for k, v in counts.items()}


def _val_shift(e: ClassBalanceEvidence) -> tuple[float, float]:
    """(p-value, distance) of val against train; (1, 0) when not measured."""
    p_value = e.val_p_value if e.val_p_value is not None else 1.0
    return p_value, e.val_distance if e.val_distance is not None else 0.0


def _misdrawn(e: ClassBalanceEvidence, t: ClassBalanceThresholds) -> Verdict | None:
    """A fail: classes only outside train, or val drawn from other classes than train."""
    unseen = {k: v for k, v in e.missing_from_train.items() if v}
    if unseen:
        where = "; ".join(f"{k}: classes {v}" for k, v in unseen.items())
        return Verdict("fail", f"classes that never appear in train do appear in other splits ({where})",
                       "the model cannot learn a class it never sees: split the data at random (stratified by "
                       "class) rather than by position in a file sorted by label")
    p_value, distance = _val_shift(e)
    if p_value < t.shift_p_value and distance >= t.shift_fail_distance:
        missing = e.missing_from_split.get("val") or []
        return Verdict("fail", f"val's classes are not train's: total variation {distance:.2f} between the "
                       f"class distributions (p={p_value:.1e})" + (f"; val lacks classes {missing}" if missing
                                                                  else ""),
                       "split the data at random (stratified by class), not by position in a file sorted by label")
    return None


def _notes(e: ClassBalanceEvidence, t: ClassBalanceThresholds) -> tuple[list[str], list[str]]:
    """What is worth a look, and how to fix each: imbalance, missing classes, a shifted val, unused classes."""
    notes, fixes = [], []
    if e.imbalance_ratio >= t.imbalance_warn:
        notes.append(f"train classes are imbalanced {e.imbalance_ratio:.1f}:1 (largest:smallest)")
        fixes.append("judge with per-class metrics, set the final bias to the log prior, and consider "
                     "re-weighting or re-sampling the rare classes")
    missing = {k: v for k, v in e.missing_from_split.items() if v}
    if missing:
        notes.append("classes missing from " + "; ".join(f"{k}: {v}" for k, v in missing.items()))
        fixes.append("split stratified by class so every class can be measured")
    p_value, distance = _val_shift(e)
    if p_value < t.shift_p_value and distance >= t.shift_distance:
        notes.append(f"val's class distribution differs from train's (total variation {distance:.2f}, "
                     f"p={p_value:.1e})")
        fixes.append("draw train and val from the same distribution (a stratified random split)")
    if e.never_seen:
        notes.append(f"classes {e.never_seen[:10]} have no samples in any split")
        fixes.append("check num_classes / class_names against the data")
    return notes, fixes


def _shift(train: np.ndarray, val: np.ndarray) -> tuple[float | None, float | None]:
    """Val's class distribution against train's: (chi-square p-value, total variation distance), or (None,
    None) when val holds none of train's classes."""
    from scipy.stats import chisquare

    keep = train > 0
    expected = train[keep] / train[keep].sum() * val[keep].sum()
    if val[keep].sum() == 0:
        return None, None
    p_value = float(chisquare(val[keep], expected).pvalue)
    distance = 0.5 * float(np.abs(train / train.sum() - val / max(val.sum(), 1)).sum())
    return p_value, distance
