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

from nnrecipe.checks.base import CannotRun, Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.data.common import profile_of, task_of


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


class ClassBalance(Check):
    """Counts per class and split, imbalance ratio, classes missing from a split."""

    id = "class-balance"
    stage = "data"
    title = "Class balance per split"
    Thresholds = ClassBalanceThresholds

    def applies(self, ctx: CheckContext) -> str | None:
        if task_of(ctx) != "classification":
            return f"a {task_of(ctx)} task has no classes to count"
        return None

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        profile = profile_of(ctx)
        counts = {name: sp.class_counts for name, sp in profile.splits.items() if sp.class_counts is not None}
        if not counts or not any(int(np.sum(c)) for c in counts.values()):
            raise CannotRun("no sample could be read, so there are no classes to count (see corrupt)")
        width = max(len(c) for c in counts.values())
        counts = {k: np.pad(v, (0, width - len(v))) for k, v in counts.items()}
        train = counts.get("train", np.zeros(width, int))
        present = [c for c in range(width) if train[c] > 0]
        held_out = [k for k in counts if k != "train"]
        measured: dict[str, Any] = {
            "counts": {k: v.tolist() for k, v in counts.items()},
            "imbalance_ratio": float(train[present].max() / train[present].min()) if present else float("inf"),
            "missing_from_train": {k: [c for c in range(width) if counts[k][c] > 0 and train[c] == 0] for k in held_out},
            "missing_from_split": {k: [c for c in present if counts[k][c] == 0] for k in held_out},
            "never_seen": [c for c in range(width) if sum(v[c] for v in counts.values()) == 0],
            "_artifacts": {"counts": counts, "class_names": list(profile.data.class_names or []) or None},
        }
        if "val" in counts and len(present) > 1:
            measured.update(_shift(train, counts["val"]))
        return measured

    def judge(self, m: Mapping[str, Any], t: ClassBalanceThresholds) -> Verdict:
        unseen = {k: v for k, v in m["missing_from_train"].items() if v}
        if unseen:
            where = "; ".join(f"{k}: classes {v}" for k, v in unseen.items())
            return Verdict("fail", f"classes that never appear in train do appear in other splits ({where})",
                           "the model cannot learn a class it never sees: split the data at random (stratified by "
                           "class) rather than by position in a file sorted by label")
        shifted = m.get("val_p_value", 1.0) < t.shift_p_value
        if shifted and m.get("val_distance", 0.0) >= t.shift_fail_distance:
            missing = m["missing_from_split"].get("val") or []
            return Verdict("fail", f"val's classes are not train's: total variation {m['val_distance']:.2f} between the "
                           f"class distributions (p={m['val_p_value']:.1e})" + (f"; val lacks classes {missing}" if missing
                                                                              else ""),
                           "split the data at random (stratified by class), not by position in a file sorted by label")
        notes, fixes = [], []
        if m["imbalance_ratio"] >= t.imbalance_warn:
            notes.append(f"train classes are imbalanced {m['imbalance_ratio']:.1f}:1 (largest:smallest)")
            fixes.append("judge with per-class metrics, set the final bias to the log prior, and consider "
                         "re-weighting or re-sampling the rare classes")
        missing = {k: v for k, v in m["missing_from_split"].items() if v}
        if missing:
            notes.append("classes missing from " + "; ".join(f"{k}: {v}" for k, v in missing.items()))
            fixes.append("split stratified by class so every class can be measured")
        if m.get("val_p_value", 1.0) < t.shift_p_value and m.get("val_distance", 0.0) >= t.shift_distance:
            notes.append(f"val's class distribution differs from train's (total variation {m['val_distance']:.2f}, "
                         f"p={m['val_p_value']:.1e})")
            fixes.append("draw train and val from the same distribution (a stratified random split)")
        if m["never_seen"]:
            notes.append(f"classes {m['never_seen'][:10]} have no samples in any split")
            fixes.append("check num_classes / class_names against the data")
        if notes:
            return Verdict("warn", "; ".join(notes), "; ".join(fixes))
        n = len(m["counts"].get("train", []))
        return Verdict("pass", f"{n} classes present in every split; train imbalance {m['imbalance_ratio']:.1f}:1")


def _shift(train: np.ndarray, val: np.ndarray) -> dict[str, float]:
    from scipy.stats import chisquare

    keep = train > 0
    expected = train[keep] / train[keep].sum() * val[keep].sum()
    if val[keep].sum() == 0:
        return {}
    p_value = float(chisquare(val[keep], expected).pvalue)
    distance = 0.5 * float(np.abs(train / train.sum() - val / max(val.sum(), 1)).sum())
    return {"val_p_value": p_value, "val_distance": distance}
