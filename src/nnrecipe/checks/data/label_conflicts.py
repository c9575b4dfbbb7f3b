"""label-conflicts: the same input (or a near-same one) carrying different targets.

Identical inputs with different labels cap accuracy below 100% and usually mean a labelling error or a
join on the wrong key. Exact conflicts come from the exact hash groups (across all splits); near conflicts
from near-duplicate pairs with different class labels. For regression, an exact conflict is a group whose
targets spread more than a fraction of the targets' standard deviation. Samples whose target is the ignore
index (unlabelled) conflict with nothing.

Artifacts: ``pairs`` — up to 8 dicts {a, b, a_input, b_input, a_target, b_target} (exact conflicts first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.data.common import LISTED, pair_pictures, profile_of, task_of


@dataclass(frozen=True)
class LabelConflictsThresholds:
    #: fail when at least this fraction of all samples sits in an exact-input group with conflicting targets
    exact_fail_fraction: float = 0.05
    #: regression: targets of identical inputs conflict when they differ by more than this many target stds
    regression_tolerance: float = 0.1


class LabelConflicts(Check):
    """The same (or a near-same) input carrying different labels."""

    id = "label-conflicts"
    stage = "data"
    title = "Same input, different labels"
    Thresholds = LabelConflictsThresholds

    def applies(self, ctx: CheckContext) -> str | None:
        if task_of(ctx) == "sequence":
            return "in next-token data identical contexts legitimately continue differently"
        return None

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        p = profile_of(ctx)
        classification = p.data.task == "classification"
        scale = 1.0 if classification else float(np.nanstd(p.target)) or 1.0
        exact_a, exact_b, involved = [], [], 0
        for group in p.exact_groups():
            group = group[p.labelled[group]]  # an unlabelled copy (the ignore index) conflicts with nothing
            if len(group) < 2:
                continue
            targets = p.target[group]
            spread = np.ptp(targets) if classification else np.ptp(targets) / scale
            if spread > (0 if classification else self.thresholds.regression_tolerance):
                involved += len(group)
                j = int(np.argmax(targets != targets[0])) if classification else int(np.argmax(np.abs(targets - targets[0])))
                exact_a.append(group[0])
                exact_b.append(group[j])
        near_a = near_b = np.zeros(0, np.int64)
        if classification:
            a, b = p.near_pairs()
            differ = (p.target[a] != p.target[b]) & p.labelled[a] & p.labelled[b]
            near_a, near_b = a[differ], b[differ]
        ea, eb = np.asarray(exact_a, np.int64), np.asarray(exact_b, np.int64)
        total = len(p.exact)
        return {
            "exact_conflict_groups": len(exact_a),
            "exact_conflict_samples": involved,
            "exact_fraction": involved / max(total, 1),
            "near_conflict_pairs": int(len(near_a)),
            "exact_examples": [_pair(p, i, j) for i, j in zip(ea[:LISTED], eb[:LISTED], strict=False)],
            "near_examples": [_pair(p, i, j) for i, j in zip(near_a[:LISTED], near_b[:LISTED], strict=False)],
            "_artifacts": {"pairs": pair_pictures(p, np.r_[ea, near_a], np.r_[eb, near_b])},
        }

    def judge(self, m: Mapping[str, Any], t: LabelConflictsThresholds) -> Verdict:
        fix = ("look at the pairs and correct the labels; if the inputs are genuinely ambiguous, the task's best "
               "possible accuracy is below 100% — know that number before tuning")
        text = (f"{m['exact_conflict_groups']} identical inputs with different targets ({m['exact_conflict_samples']} "
                f"samples, {m['exact_fraction']:.2%}), {m['near_conflict_pairs']} near-identical pairs with different labels")
        if m["exact_conflict_groups"] and m["exact_fraction"] >= t.exact_fail_fraction:
            return Verdict("fail", text, fix)
        if m["exact_conflict_groups"] or m["near_conflict_pairs"]:
            return Verdict("warn", text, fix)
        return Verdict("pass", "no input carries two different labels")


def _pair(p: Any, i: int, j: int) -> dict[str, Any]:
    return {"a": p.describe(int(i)), "b": p.describe(int(j)), "a_target": p.target[int(i)].item(),
            "b_target": p.target[int(j)].item()}
