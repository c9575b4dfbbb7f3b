"""label-conflicts: the same input (or a near-same one) carrying different targets.

Identical inputs with different labels cap accuracy below 100% and usually mean a labelling error or a
join on the wrong key. Exact conflicts come from the exact hash groups (across all splits); near conflicts
from near-duplicate pairs with different class labels. For regression, an exact conflict is a group whose
targets spread more than a fraction of the targets' standard deviation. Samples whose target is the ignore
index (unlabelled) conflict with nothing.

Artifacts: ``pairs`` — up to 8 dicts {a, b, a_input, b_input, a_target, b_target} (exact conflicts first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from nnrecipe.checks.base import DataCheck, Verdict, picture
from nnrecipe.checks.context import DataContext
from nnrecipe.checks.data.common import LISTED, Pair, Profile, pair_pictures, profile_of, task_of


@dataclass(frozen=True)
class LabelConflictsThresholds:
    #: fail when at least this fraction of all samples sits in an exact-input group with conflicting targets
    exact_fail_fraction: float = 0.05
    #: regression: targets of identical inputs conflict when they differ by more than this many target stds
    regression_tolerance: float = 0.1


class Conflict(TypedDict):
    """Two samples with the same (or a near-same) input and different targets."""

    a: dict[str, Any]
    b: dict[str, Any]
    a_target: Any
    b_target: Any


@dataclass(frozen=True)
class LabelConflictsEvidence:
    #: groups of identical inputs whose targets differ, the samples in them, and their share of all samples
    exact_conflict_groups: int
    exact_conflict_samples: int
    exact_fraction: float
    #: near-identical pairs (classification) with different labels
    near_conflict_pairs: int
    #: at most LISTED of each: one conflicting pair per group, and near pairs
    exact_examples: list[Conflict]
    near_examples: list[Conflict]
    #: the report's side-by-side pictures, exact conflicts first
    pairs: list[Pair] = picture()


class LabelConflicts(DataCheck[LabelConflictsEvidence, LabelConflictsThresholds]):
    """The same (or a near-same) input carrying different labels."""

    id = "label-conflicts"
    stage = "data"
    title = "Same input, different labels"
    Thresholds = LabelConflictsThresholds

    def applies(self, ctx: DataContext) -> str | None:
        if task_of(ctx) == "sequence":
            return "in next-token data identical contexts legitimately continue differently"
        return None

    def measure(self, ctx: DataContext) -> LabelConflictsEvidence:
        p = profile_of(ctx)
        ea, eb, involved = _exact_conflicts(p, self.thresholds.regression_tolerance)
        near_a, near_b = _near_conflicts(p)
        return LabelConflictsEvidence(
            exact_conflict_groups=len(ea),
            exact_conflict_samples=involved,
            exact_fraction=involved / max(len(p.exact), 1),
            near_conflict_pairs=int(len(near_a)),
            exact_examples=[_pair(p, i, j) for i, j in zip(ea[:LISTED], eb[:LISTED], strict=False)],
            near_examples=[_pair(p, i, j) for i, j in zip(near_a[:LISTED], near_b[:LISTED], strict=False)],
            pairs=pair_pictures(p, np.r_[ea, near_a], np.r_[eb, near_b]),
        )

    def judge(self, e: LabelConflictsEvidence, t: LabelConflictsThresholds) -> Verdict:
        fix = ("look at the pairs and correct the labels; if the inputs are genuinely ambiguous, the task's best "
               "possible accuracy is below 100% — know that number before tuning")
        text = (f"{e.exact_conflict_groups} identical inputs with different targets ({e.exact_conflict_samples} "
                f"samples, {e.exact_fraction:.2%}), {e.near_conflict_pairs} near-identical pairs with different labels")
        if e.exact_conflict_groups and e.exact_fraction >= t.exact_fail_fraction:
            return Verdict("fail", text, fix)
        if e.exact_conflict_groups or e.near_conflict_pairs:
            return Verdict("warn", text, fix)
        return Verdict("pass", "no input carries two different labels")


def _labelled(p: Profile) -> np.ndarray:
    """(N,) bool: the samples whose target is not the ignore index (the profile always fills it in)."""
    assert p.labelled is not None
    return p.labelled


def _exact_conflicts(p: Profile, tolerance: float) -> tuple[np.ndarray, np.ndarray, int]:
    """One (first, differing) pair of rows per exact-input group whose labelled targets conflict, and how many
    samples those groups hold. Regression targets conflict beyond `tolerance` target stds."""
    classification = p.data.task == "classification"
    scale = 1.0 if classification else float(np.nanstd(p.target)) or 1.0
    labelled = _labelled(p)
    exact_a, exact_b, involved = [], [], 0
    for group in p.exact_groups():
        group = group[labelled[group]]  # an unlabelled copy (the ignore index) conflicts with nothing
        if len(group) < 2:
            continue
        targets = p.target[group]
        spread = np.ptp(targets) if classification else np.ptp(targets) / scale
        if spread > (0 if classification else tolerance):
            involved += len(group)
            j = int(np.argmax(targets != targets[0])) if classification else int(np.argmax(np.abs(targets - targets[0])))
            exact_a.append(group[0])
            exact_b.append(group[j])
    return np.asarray(exact_a, np.int64), np.asarray(exact_b, np.int64), involved


def _near_conflicts(p: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Near pairs (classification only) whose labelled classes differ."""
    if p.data.task != "classification":
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    labelled = _labelled(p)
    a, b = p.near_pairs()
    differ = (p.target[a] != p.target[b]) & labelled[a] & labelled[b]
    return a[differ], b[differ]


def _pair(p: Profile, i: int, j: int) -> Conflict:
    return {"a": p.describe(int(i)), "b": p.describe(int(j)), "a_target": p.target[int(i)].item(),
            "b_target": p.target[int(j)].item()}
