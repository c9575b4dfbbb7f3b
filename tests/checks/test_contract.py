"""The contract every registered check keeps: id, stage, title, a Thresholds dataclass, and on a correct toy
experiment of every task a status in pass/warn/skip (never fail or error).

A check that always skipped would keep that contract, so every data and skeleton check must also be seen to
work both ways (slow): it warns or fails on a broken setup from the bug zoo (tests/zoo, tests/realcode) and
passes a correct one (a spec whose EXPECT is "clean", or a toy), run alone (`ids=[check_id]`)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import nnrecipe as nr
import toy
from nnrecipe.checks.registry import CHECKS
from nnrecipe.results import STAGES


@pytest.mark.parametrize("check_id", list(CHECKS))
def test_check_declares_its_contract(check_id: str) -> None:
    cls = CHECKS[check_id]
    assert cls.id == check_id and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", check_id)
    assert cls.stage in STAGES
    assert cls.title
    assert dataclasses.is_dataclass(cls.Thresholds)
    cls.Thresholds()  # every limit has a default


@pytest.mark.parametrize("make", [toy.classification, toy.regression, toy.sequence])
def test_correct_toys_get_no_fail_or_error(make) -> None:
    result = nr.check(make(), device="cpu")
    assert [c.id for c in result.checks] == [cid for cid in CHECKS if CHECKS[cid].stage in ("data", "skeleton")]
    bad = {c.id: f"{c.status}: {c.summary}" for c in result.checks if c.status not in ("pass", "warn", "skip")}
    assert not bad


TESTS = Path(__file__).resolve().parents[1]

#: check id -> (a broken setup it warns or fails on, a correct setup it passes): "zoo/<spec>" and
#: "realcode/<spec>" are spec files under tests/, "toy.<name>" an experiment of tests/toy.py. The cheapest that
#: show it. Some catches are the data's own property, not the spec's planted bug (marked "the data's"): still
#: the check seen to speak on real data.
WORKS_BOTH_WAYS: dict[str, tuple[str, str]] = {
    # step 1: data
    "corrupt": ("zoo/broken_nan_inputs", "toy.classification"),
    "class-balance": ("realcode/broken_iris_unshuffled_split", "toy.classification"),
    "duplicates": ("realcode/broken_mingpt_no_mask", "toy.classification"),  # the data's: repeated text windows
    "split-leakage": ("realcode/broken_iris_unshuffled_split", "toy.classification"),  # the data's: iris repeats a row
    "near-duplicates": ("zoo/broken_imbalanced_uniform_init", "toy.classification"),  # the data's: digits look-alikes
    "label-conflicts": ("zoo/broken_labels_shuffled", "toy.classification"),
    "input-stats": ("realcode/broken_iris_unshuffled_split", "toy.classification"),  # val sorted apart: shifted
    "outliers": ("zoo/broken_rows_in_other_units", "toy.classification"),
    "label-issues": ("zoo/broken_labels_noisy", "toy.classification"),
    "target-leakage": ("zoo/broken_target_in_inputs", "toy.classification"),
    "sequence-alignment": ("zoo/broken_off_by_one_targets", "toy.sequence"),
    "vocab-coverage": ("realcode/broken_word_lstm_not_batch_first", "toy.sequence"),  # the data's: rare val words
    # step 2: skeleton
    "init-loss": ("zoo/broken_final_bias_12", "toy.classification"),
    "init-bias": ("zoo/broken_imbalanced_uniform_init", "toy.classification"),
    "output-shape": ("zoo/broken_too_few_outputs", "toy.classification"),
    "loss-pairing": ("zoo/broken_summed_loss", "toy.classification"),
    "batch-independence": ("zoo/broken_batchnorm_no_running_stats", "toy.classification"),
    "causal": ("zoo/broken_unmasked_transformer", "toy.sequence"),
    "target-alignment": ("zoo/broken_off_by_one_targets", "toy.sequence"),
    "eval-determinism": ("zoo/broken_batchnorm_no_running_stats", "toy.classification"),
    "overfit-one-batch": ("realcode/broken_bce_double_sigmoid", "toy.classification"),
    "loss-decreases": ("realcode/broken_poly_regression_sign", "toy.classification"),
    "params-update": ("zoo/broken_frozen_layers", "toy.classification"),
    "step-matches-reference": ("zoo/broken_missing_zero_grad", "realcode/correct_poly_regression_manual"),
    "lr-schedule": ("zoo/broken_cosine_too_short", "zoo/correct_onecycle_per_step"),
    "reproducible": ("zoo/broken_unseeded_augment", "toy.classification"),
    "input-independent": ("zoo/broken_model_ignores_input", "toy.classification"),
    "dumb-baselines": ("zoo/broken_unstandardized_targets", "toy.classification"),
    "augment-consistency": ("zoo/broken_augment_breaks_labels", "zoo/correct_augment_flips_labels"),
    "capacity": ("zoo/broken_model_ignores_input", "toy.classification"),
    "gradient-health": ("zoo/broken_nan_inputs", "toy.classification"),
    "human-baseline": ("zoo/broken_human_labels_disagree", "zoo/correct_human_labels"),
}


def _checked(check_id: str, setup: str) -> nr.CheckResult:
    exp = getattr(toy, setup.removeprefix("toy."))() if setup.startswith("toy.") else nr.load_spec(TESTS / f"{setup}.py")
    return nr.check(exp, ids=[check_id], device="cpu").checks[0]


def test_every_data_and_skeleton_check_has_a_broken_and_a_correct_setup() -> None:
    assert list(WORKS_BOTH_WAYS) == [cid for cid, cls in CHECKS.items() if cls.stage in ("data", "skeleton")]
    for broken, correct in WORKS_BOTH_WAYS.values():
        assert broken.split("/")[1].startswith("broken_")
        assert correct.startswith("toy.") or correct.split("/")[1].startswith("correct_")
        assert all((TESTS / f"{s}.py").is_file() for s in (broken, correct) if not s.startswith("toy."))


@pytest.mark.slow
@pytest.mark.parametrize("check_id", list(WORKS_BOTH_WAYS))
def test_check_warns_or_fails_on_a_broken_setup(check_id: str) -> None:
    broken, _ = WORKS_BOTH_WAYS[check_id]
    result = _checked(check_id, broken)
    assert result.status in ("warn", "fail"), f"{broken}: {result.status}: {result.summary}"


@pytest.mark.slow
@pytest.mark.parametrize("check_id", list(WORKS_BOTH_WAYS))
def test_check_passes_a_correct_setup(check_id: str) -> None:
    _, correct = WORKS_BOTH_WAYS[check_id]
    result = _checked(check_id, correct)
    assert result.status == "pass", f"{correct}: {result.status}: {result.summary}"
