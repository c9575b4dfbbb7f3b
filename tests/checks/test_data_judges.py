"""The judges of the data checks, on evidence built by hand (no data, no model): each gives pass, warn or fail
at and around its default thresholds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from nnrecipe.checks.base import document_evidence
from nnrecipe.checks.data.class_balance import ClassBalance, ClassBalanceEvidence, ClassBalanceThresholds
from nnrecipe.checks.data.corrupt import Corrupt, CorruptEvidence, CorruptSplit, CorruptThresholds
from nnrecipe.checks.data.duplicates import Duplicates, DuplicatesEvidence, DuplicatesThresholds
from nnrecipe.checks.data.input_stats import InputStats, InputStatsEvidence, InputStatsThresholds
from nnrecipe.checks.data.label_conflicts import LabelConflicts, LabelConflictsEvidence, LabelConflictsThresholds
from nnrecipe.checks.data.label_issues import LabelIssues, LabelIssuesEvidence, LabelIssuesThresholds
from nnrecipe.checks.data.near_duplicates import NearDuplicates, NearDuplicatesEvidence, NearDuplicatesThresholds
from nnrecipe.checks.data.outliers import Outliers, OutliersEvidence, OutliersThresholds, PropertyOutliers
from nnrecipe.checks.data.sequence_alignment import (
    SequenceAlignment,
    SequenceAlignmentEvidence,
    SequenceAlignmentThresholds,
)
from nnrecipe.checks.data.split_leakage import SplitLeakage, SplitLeakageEvidence, SplitLeakageThresholds, Windows
from nnrecipe.checks.data.target_leakage import (
    FeatureScore,
    TargetLeakage,
    TargetLeakageEvidence,
    TargetLeakageThresholds,
)
from nnrecipe.checks.data.vocab_coverage import VocabCoverage, VocabCoverageEvidence, VocabCoverageThresholds

# --- corrupt --------------------------------------------------------------------------------------------------


def _corrupt(**counts: Any) -> CorruptEvidence:
    split: CorruptSplit = {
        "size": 100, "read": 100, "unreadable": 0, "unreadable_examples": [], "nonfinite": 0, "nonfinite_examples": [],
        "nonfinite_targets": 0, "nonfinite_target_examples": [], "empty": 0, "empty_examples": [], "constant": 0,
        "constant_fraction": 0.0, "constant_examples": []}
    split.update(counts)  # type: ignore[typeddict-item]
    return CorruptEvidence(per_split={"train": split})


def test_corrupt_passes_clean_splits_and_fails_any_unreadable_nonfinite_or_empty_sample() -> None:
    judge, t = Corrupt().judge, CorruptThresholds()
    assert judge(_corrupt(), t).status == "pass"
    assert judge(_corrupt(unreadable=1, unreadable_examples=[{"index": 3}]), t).status == "fail"
    assert judge(_corrupt(nonfinite=1, nonfinite_examples=[{"index": 7}]), t).status == "fail"
    assert judge(_corrupt(nonfinite_targets=2), t).status == "fail"
    empty = judge(_corrupt(empty=1, empty_examples=[{"index": 9}]), t)
    assert empty.status == "fail" and "first: {'index': 9}" in empty.summary


def test_corrupt_warns_on_one_constant_sample_past_the_zero_fraction_default() -> None:
    judge, t = Corrupt().judge, CorruptThresholds()
    assert judge(_corrupt(constant=1, constant_fraction=0.01), t).status == "warn"
    assert judge(_corrupt(constant=1, constant_fraction=0.01), CorruptThresholds(constant_warn_fraction=0.01)).status == "pass"


# --- class-balance --------------------------------------------------------------------------------------------


def _balance(**changes: Any) -> ClassBalanceEvidence:
    e = ClassBalanceEvidence(counts={"train": [50, 50, 50], "val": [20, 20, 20]}, imbalance_ratio=1.0,
                             missing_from_train={"val": []}, missing_from_split={"val": []}, never_seen=[],
                             val_p_value=0.5, val_distance=0.0)
    return replace(e, **changes)


def test_class_balance_passes_balanced_splits_and_warns_from_the_imbalance_ratio() -> None:
    judge, t = ClassBalance().judge, ClassBalanceThresholds()
    assert judge(_balance(), t).status == "pass"
    assert judge(_balance(imbalance_ratio=4.9), t).status == "pass"
    assert judge(_balance(imbalance_ratio=5.0), t).status == "warn"
    assert judge(_balance(missing_from_split={"val": [2]}), t).status == "warn"
    assert judge(_balance(never_seen=[3]), t).status == "warn"


def test_class_balance_fails_a_class_only_outside_train_and_a_val_drawn_from_other_classes() -> None:
    judge, t = ClassBalance().judge, ClassBalanceThresholds()
    assert judge(_balance(missing_from_train={"val": [3]}), t).status == "fail"
    assert judge(_balance(val_p_value=1e-7, val_distance=0.5), t).status == "fail"
    assert judge(_balance(val_p_value=1e-7, val_distance=0.49), t).status == "warn"
    assert judge(_balance(val_p_value=1e-7, val_distance=0.09), t).status == "pass"  # significant but tiny
    assert judge(_balance(val_p_value=1e-5, val_distance=0.6), t).status == "pass"  # large but not significant


def test_class_balance_without_val_is_judged_on_train_alone() -> None:
    e = ClassBalanceEvidence(counts={"train": [5, 5]}, imbalance_ratio=1.0, missing_from_train={},
                             missing_from_split={}, never_seen=[])
    assert ClassBalance().judge(e, ClassBalanceThresholds()).status == "pass"


# --- duplicates -----------------------------------------------------------------------------------------------


def _duplicates(redundant: int, size: int = 100) -> DuplicatesEvidence:
    return DuplicatesEvidence(per_split={"train": {"redundant": redundant, "groups": min(redundant, 1), "size": size,
                                                   "fraction": redundant / size},
                                         "val": {"redundant": 0, "groups": 0, "size": 50, "fraction": 0.0}},
                              examples=[])


def test_duplicates_pass_without_copies_warn_on_one_and_fail_from_half_a_split() -> None:
    judge, t = Duplicates().judge, DuplicatesThresholds()
    assert judge(_duplicates(0), t).status == "pass"
    assert judge(_duplicates(1), t).status == "warn"
    assert judge(_duplicates(49), t).status == "warn"
    assert judge(_duplicates(50), t).status == "fail"


# --- split-leakage --------------------------------------------------------------------------------------------


def _leakage(exact: int = 0, near: int = 0, size: int = 1000, train_rate: float = 0.0,
             windows: dict[str, Windows] | None = None) -> SplitLeakageEvidence:
    shared = {"train-val": {"exact": exact, "near": near, "size": size}} if exact or near else {}
    return SplitLeakageEvidence(
        shared=shared,  # type: ignore[arg-type]
        fractions={k: {"exact": v["exact"] / size, "near": v["near"] / size} for k, v in shared.items()},
        train_duplicate_rate={"exact": train_rate, "any": train_rate}, windows=windows or {},
        exact_examples=[], near_examples=[])


def _windows(overlapping: int, tested: int = 100) -> dict[str, Windows]:
    return {"val": {"span": 16, "windows": tested, "tested": tested, "overlapping": overlapping, "sampling": 1,
                    "fraction": overlapping / tested, "examples": []}}


def test_split_leakage_passes_no_sharing_and_fails_copies_from_one_percent_of_val() -> None:
    judge, t = SplitLeakage().judge, SplitLeakageThresholds()
    assert judge(_leakage(), t).status == "pass"
    assert judge(_leakage(exact=10), t).status == "fail"  # 1%, 10 copies, a source without repeats
    assert judge(_leakage(exact=9), t).status == "warn"  # 0.9%: worth a look, below the fail share
    assert judge(_leakage(exact=2, size=100), t).status == "warn"  # 2% but fewer than fail_copies samples


def test_split_leakage_measures_sharing_against_trains_own_duplicate_rate() -> None:
    judge, t = SplitLeakage().judge, SplitLeakageThresholds()
    assert judge(_leakage(exact=3, train_rate=0.02), t).status == "pass"  # 0.3% where train repeats 2%
    assert judge(_leakage(near=2), t).status == "warn"  # any near copy where train has none


def test_split_leakage_judges_token_windows_by_their_overlap_with_train_text() -> None:
    judge, t = SplitLeakage().judge, SplitLeakageThresholds()
    assert judge(_leakage(windows=_windows(19)), t).status == "pass"
    assert judge(_leakage(windows=_windows(20)), t).status == "warn"
    assert judge(_leakage(windows=_windows(50)), t).status == "fail"
    assert judge(_leakage(windows=_windows(19, tested=19)), t).status == "pass"  # too few windows to judge


# --- near-duplicates ------------------------------------------------------------------------------------------


def _near(samples: int, expected: float = 0.0, size: int = 1000) -> NearDuplicatesEvidence:
    return NearDuplicatesEvidence(per_split={"train": {"pairs": samples // 2, "samples": samples,
                                                       "fraction": samples / size, "expected": expected}},
                                  hash="SimHash of standardized vectors", examples=[])


def test_near_duplicates_warn_beyond_the_natural_rate_and_pass_within_it() -> None:
    judge, t = NearDuplicates().judge, NearDuplicatesThresholds()
    assert judge(_near(0), t).status == "pass"
    assert judge(_near(2), t).status == "warn"  # one pair where the data's spacing predicts none
    assert judge(_near(16, expected=4.0), t).status == "warn"  # above 4 + 3 * sqrt(4) = 10
    natural = judge(_near(10, expected=4.0), t)  # at the limit: as many as the spacing predicts
    assert natural.status == "pass" and "as many as the data's spacing predicts" in natural.summary


# --- label-conflicts ------------------------------------------------------------------------------------------


def _conflicts(groups: int = 0, samples: int = 0, total: int = 1000, near: int = 0) -> LabelConflictsEvidence:
    return LabelConflictsEvidence(exact_conflict_groups=groups, exact_conflict_samples=samples,
                                  exact_fraction=samples / total, near_conflict_pairs=near, exact_examples=[],
                                  near_examples=[])


def test_label_conflicts_pass_none_warn_a_few_and_fail_from_five_percent_of_samples() -> None:
    judge, t = LabelConflicts().judge, LabelConflictsThresholds()
    assert judge(_conflicts(), t).status == "pass"
    assert judge(_conflicts(near=1), t).status == "warn"
    assert judge(_conflicts(groups=24, samples=49), t).status == "warn"
    assert judge(_conflicts(groups=25, samples=50), t).status == "fail"


# --- input-stats ----------------------------------------------------------------------------------------------


def _inputs(kind: str = "table", **changes: Any) -> InputStatsEvidence:
    e = InputStatsEvidence(kind=kind, per_channel=kind == "image", features=3, mean_range=[-0.1, 0.1],
                           std_range=[0.9, 1.1], value_range=[-3.0, 3.0], pooled=[0.0, 1.0], constant_features=[],
                           constant_count=0, nonfinite_features=[], nonfinite_count=0, scale_ratio=1.2,
                           offset_ratio=0.1, worst_mean_feature=0, split_mean_shift={"val": 0.05})
    return replace(e, **changes)


def test_input_stats_tables_in_their_own_units_pass_until_scales_a_million_apart() -> None:
    judge, t = InputStats().judge, InputStatsThresholds()
    assert judge(_inputs(), t).status == "pass"
    units = judge(_inputs(scale_ratio=999_999.0, std_range=[0.001, 999.9]), t)
    assert units.status == "pass" and "a table's own units" in units.summary
    assert judge(_inputs(scale_ratio=1e6), t).status == "warn"
    assert judge(_inputs(offset_ratio=1e6), t).status == "warn"
    assert judge(_inputs(constant_count=1, constant_features=["age"]), t).status == "warn"
    assert judge(_inputs(nonfinite_count=1, nonfinite_features=[2]), t).status == "warn"


def test_input_stats_images_warn_when_not_normalized() -> None:
    judge, t = InputStats().judge, InputStatsThresholds()
    assert judge(_inputs("image"), t).status == "pass"
    assert judge(_inputs("image", mean_range=[-3.0, 3.0]), t).status == "pass"  # at the tolerance
    assert judge(_inputs("image", mean_range=[110.0, 130.0], std_range=[60.0, 70.0]), t).status == "warn"  # raw 0..255
    assert judge(_inputs("image", scale_ratio=101.0), t).status == "warn"  # channels on scales apart
    assert judge(_inputs("signal", pooled=[0.0, 21.0]), t).status == "warn"  # int16 audio, say
    assert judge(_inputs("signal", pooled=[0.0, 20.0]), t).status == "pass"


def test_input_stats_warns_on_a_held_out_split_normalized_differently() -> None:
    judge, t = InputStats().judge, InputStatsThresholds()
    assert judge(_inputs(split_mean_shift={"val": 0.5}), t).status == "pass"
    assert judge(_inputs(split_mean_shift={"val": 0.51}), t).status == "warn"


# --- outliers -------------------------------------------------------------------------------------------------


def _property(outliers: int = 0, max_abs_z: float = 3.0) -> PropertyOutliers:
    examples = [{"split": "train", "index": 42, "value": 600.0, "z": 60.0}] if outliers else []
    return {"median": 1.0, "outliers": outliers, "max_abs_z": max_abs_z, "examples": examples}


def test_outliers_pass_a_data_tail_and_warn_on_isolated_values() -> None:
    judge, t = Outliers().judge, OutliersThresholds()
    calm = judge(OutliersEvidence(properties={"norm": _property(max_abs_z=7.9)}, feature_extremes=[]), t)
    assert calm.status == "pass" and "largest robust z 7.9 (norm)" in calm.summary
    hit = judge(OutliersEvidence(properties={"norm": _property(1, 60.0)}, feature_extremes=[]), t)
    assert hit.status == "warn" and "train[42]" in hit.summary
    sentinel = {"feature": "income", "z": -120.0, "value": -999.0, "count": 3}
    assert judge(OutliersEvidence(properties={"norm": _property()}, feature_extremes=[sentinel]), t).status == "warn"


# --- label-issues ---------------------------------------------------------------------------------------------


def _issues(fraction: float, model_accuracy: float = 0.9, **changes: Any) -> LabelIssuesEvidence:
    e = LabelIssuesEvidence(sampled=1000, of=1000, majority_accuracy=0.25, model="linear",
                            model_accuracy=model_accuracy, issues=int(fraction * 1000), fraction=fraction,
                            candidates=[])
    return replace(e, **changes)


def test_label_issues_pass_below_five_percent_flagged_and_warn_from_it() -> None:
    judge, t = LabelIssues().judge, LabelIssuesThresholds()
    assert judge(_issues(0.049), t).status == "pass"
    assert judge(_issues(0.05), t).status == "warn"
    own = judge(_issues(0.05, model="experiment", folds=2, epochs=16, linear_accuracy=0.5, budget="default"), t)
    assert own.status == "warn" and "the experiment's model (2 folds x 16 epochs" in own.summary


def test_label_issues_skip_when_the_model_is_too_weak_or_the_sample_too_small() -> None:
    judge, t = LabelIssues().judge, LabelIssuesThresholds()
    assert judge(_issues(0.2, model_accuracy=0.625), t).status == "warn"  # closes exactly half the gap
    assert judge(_issues(0.2, model_accuracy=0.6), t).status == "skip"
    few = LabelIssuesEvidence(sampled=40, of=40, majority_accuracy=0.5, model="linear")
    assert judge(few, t).status == "skip"


# --- target-leakage -------------------------------------------------------------------------------------------


def _feature(score: float, skill: float | None = None, r2: float | None = None) -> FeatureScore:
    entry: FeatureScore = {"feature": 8, "score": score, "skill": score if skill is None else skill, "equal": 0.0}
    if r2 is not None:
        entry["r2"] = r2
    return entry


def _leak(score: float, task: str = "classification", **changes: Any) -> TargetLeakageEvidence:
    best = _feature(score, r2=None if task == "classification" else score)
    e = TargetLeakageEvidence(samples=900, task=task, held_out="val", top_features=[best], best=best, strongest=best)
    return replace(e, **changes)


def test_target_leakage_fails_from_0995_warns_from_099_and_passes_below() -> None:
    judge, t = TargetLeakage().judge, TargetLeakageThresholds()
    assert judge(_leak(0.98), t).status == "pass"
    assert judge(_leak(0.99), t).status == "warn"
    assert judge(_leak(0.995), t).status == "fail"
    assert judge(_leak(0.995, task="regression"), t).status == "fail"


def test_target_leakage_passes_a_curve_to_learn_and_skips_too_few_samples() -> None:
    judge, t = TargetLeakage().judge, TargetLeakageThresholds()
    curve = judge(_leak(0.6, task="regression", strongest=_feature(0.6, skill=1.0, r2=0.6)), t)
    assert curve.status == "pass" and "determines the target" in curve.summary
    few = TargetLeakageEvidence(samples=30, task="classification", held_out=None)
    assert judge(few, t).status == "skip"


def test_target_leakage_fails_a_vector_target_that_is_the_input() -> None:
    judge, t = TargetLeakage().judge, TargetLeakageThresholds()
    assert judge(TargetLeakageEvidence(samples=200, task="regression", held_out="val", target_is_input=0.99), t).status == "fail"
    assert judge(TargetLeakageEvidence(samples=200, task="regression", held_out="val", target_is_input=0.98), t).status == "pass"


# --- sequence-alignment ---------------------------------------------------------------------------------------


def _alignment(shifted: float, copied: float = 0.0, reversed: float = 0.0, positions: int = 1000) -> SequenceAlignmentEvidence:
    return SequenceAlignmentEvidence(positions=positions, ignore_index=None, ignored_positions=0, shifted=shifted,
                                     copied=copied, reversed=reversed)


@pytest.mark.parametrize(("evidence", "status"), [
    (_alignment(0.9), "pass"),
    (_alignment(0.89), "warn"),
    (_alignment(0.05, copied=0.9), "fail"),
    (_alignment(0.05, reversed=0.9), "fail"),
    (_alignment(0.05, copied=0.89), "warn"),
    (_alignment(0.0, positions=0), "skip"),
])
def test_sequence_alignment_passes_shifted_targets_and_fails_copied_or_reversed_ones(
        evidence: SequenceAlignmentEvidence, status: str) -> None:
    assert SequenceAlignment().judge(evidence, SequenceAlignmentThresholds()).status == status


# --- vocab-coverage -------------------------------------------------------------------------------------------


def _vocab(unseen: float | None, out_of_range: int = 0) -> VocabCoverageEvidence:
    held = {} if unseen is None else {"val": {"types": 3, "fraction": unseen, "examples": [20, 21, 22]}}
    return VocabCoverageEvidence(vocab_size=20, train_types=20, unseen_in_train=held, out_of_range_tokens=out_of_range)


def test_vocab_coverage_passes_covered_tokens_warns_from_01_percent_unseen_and_fails_from_5() -> None:
    judge, t = VocabCoverage().judge, VocabCoverageThresholds()
    assert judge(_vocab(None), t).status == "pass"
    assert judge(_vocab(0.0009), t).status == "pass"
    assert judge(_vocab(0.001), t).status == "warn"
    assert judge(_vocab(0.049), t).status == "warn"
    assert judge(_vocab(0.05), t).status == "fail"
    assert judge(_vocab(0.0, out_of_range=1), t).status == "fail"


def test_pictures_stay_out_of_the_document_and_a_measured_null_stays_in() -> None:
    """The conversion's contract: picture fields reach the report under its names, never the JSON; an optional
    field not measured is left out, a field measured as None (no held-out split, no ignore index) is kept."""
    arrays = {"train": np.array([5, 5])}
    e = ClassBalanceEvidence(counts={"train": [5, 5]}, imbalance_ratio=1.0, missing_from_train={},
                             missing_from_split={}, never_seen=[], count_arrays=arrays, class_names=["a", "b"])
    assert list(document_evidence(e)) == ["counts", "imbalance_ratio", "missing_from_train", "missing_from_split",
                                          "never_seen"]
    assert ClassBalance().pictures(e) == {"counts": arrays, "class_names": ["a", "b"]}
    few = TargetLeakageEvidence(samples=30, task="classification", held_out=None)
    assert document_evidence(few) == {"samples": 30, "task": "classification", "held_out": None}
    assert TargetLeakage().pictures(few) == {}
    assert document_evidence(_alignment(1.0))["ignore_index"] is None
