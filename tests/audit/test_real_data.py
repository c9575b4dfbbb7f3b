"""The data checks on real data, built the way real code has it (see realdata.py): every correct setup passes
the check it once tripped, and its broken twin is still caught."""

from __future__ import annotations

import numpy as np
import pytest
import realdata as rd
from helpers import data, result, statuses

from nnrecipe.checks.data.split_leakage import SplitLeakage, SplitLeakageEvidence, SplitLeakageThresholds


def splits(x: np.ndarray, y: np.ndarray, train: float = 0.8) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return dict(zip(("train", "val"), rd.random_split(x, y, train), strict=True))


def audit(parts: dict[str, tuple[np.ndarray, np.ndarray]], check_id: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return result(data(*parts.values(), **kwargs), check_id)


# --- 1. targets with an ignore index --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def padded_lines():
    return rd.source_lines()


def test_padded_next_token_lines_are_aligned(padded_lines) -> None:
    """makemore-style rows of source lines, targets -1 past the end: before, 34% 'aligned' and a warn."""
    parts = splits(*rd.padded_next_token(padded_lines), train=0.9)
    d = data(*parts.values(), task="sequence", kind="text")
    assert d.ignore_index == -1
    got = statuses(d)
    assert got["sequence-alignment"] == "pass" and "fail" not in got.values() and "error" not in got.values()
    r = result(d, "sequence-alignment")
    assert r.evidence["shifted"] == 1.0 and r.evidence["ignored_positions"] > 0


def test_padded_targets_copied_from_the_inputs_still_fail(padded_lines) -> None:
    parts = splits(*rd.padded_next_token(padded_lines, copy=True), train=0.9)
    r = audit(parts, "sequence-alignment", task="sequence", kind="text")
    assert r.status == "fail" and r.evidence["copied"] == 1.0


def test_unlabelled_classes_are_left_out_and_never_crash() -> None:
    """wine with a fifth of its labels -1 (unlabelled, skipped by the loss): label-issues used to crash."""
    x, y = rd.table("wine")
    y = y.copy()
    y[np.random.default_rng(0).random(len(y)) < 0.2] = -1
    d = data(*splits(x, y).values())
    assert d.ignore_index == -1
    got = statuses(d)
    assert "error" not in got.values() and "fail" not in got.values(), got
    counts = result(d, "class-balance").evidence["counts"]
    assert sum(sum(c) for c in counts.values()) == int((y >= 0).sum())
    # the broken twin: the given label (unlabelled ones included) copied into a feature
    leaky = data(*splits(np.c_[x, y].astype(np.float32), y).values())
    assert result(leaky, "target-leakage").status == "fail"


def test_an_experiment_declares_its_ignore_index() -> None:
    """Through an Experiment the audit takes the ignore index the engine finds (the field here)."""
    import torch
    from torch.utils.data import TensorDataset

    import nnrecipe as nr

    x, y = rd.padded_next_token(rd.source_lines(("textwrap",)), ignore=-100)
    (xt, yt), (xv, yv) = rd.random_split(x, y, 0.9)
    ds = lambda a, b: TensorDataset(torch.as_tensor(a), torch.as_tensor(b))  # noqa: E731
    exp = nr.Experiment(name="lines", task="sequence", train=ds(xt, yt), val=ds(xv, yv), num_classes=256,
                        ignore_index=-100, model=lambda: torch.nn.Embedding(256, 256),
                        optimizer=lambda p: torch.optim.SGD(p, lr=0.1), batch_size=16, epochs=1)
    got = {c.id: c for c in nr.check(exp, stages=["data"], device="cpu").checks}
    assert got["sequence-alignment"].status == "pass" and got["sequence-alignment"].evidence["ignore_index"] == -100
    assert all(c.status != "error" for c in got.values()), {k: c.summary for k, c in got.items() if c.status == "error"}


# --- 2. near duplicates relative to the data's own spacing ----------------------------------------------------


@pytest.fixture(scope="module")
def polynomial():
    x, y = rd.polynomial_table()
    return rd.random_split(x, y)


def test_dense_polynomial_features_are_not_near_duplicates(polynomial) -> None:
    """x, x^2, ..., x^6 of one variable: before, 99.1% of train were 'near duplicates'."""
    r = audit(dict(zip(("train", "val"), polynomial, strict=True)), "near-duplicates", task="regression")
    assert r.status == "pass"
    assert r.evidence["per_split"]["train"]["fraction"] < 0.01
    assert r.evidence["scale"]["dimension"] < 1.5  # the table is one curve: intrinsic dimension 1
    leak = audit(dict(zip(("train", "val"), polynomial, strict=True)), "split-leakage", task="regression")
    assert leak.status == "pass"


def test_rows_round_tripped_through_a_csv_are_near_duplicates(polynomial) -> None:
    (x, y), val = polynomial
    copies = rd.csv_round_trip(x[:10])  # 6 significant digits: a near copy, not an exact one
    assert not np.array_equal(copies, x[:10])
    r = audit({"train": (np.r_[x, copies], np.r_[y, y[:10]]), "val": val}, "near-duplicates", task="regression")
    assert r.status == "warn" and r.evidence["per_split"]["train"]["pairs"] >= 8
    leaked = audit({"train": (x, y), "val": (np.r_[val[0], copies], np.r_[val[1], y[:10]])}, "split-leakage",
                   task="regression")
    assert leaked.status == "warn" and leaked.evidence["shared"]["train-val"]["near"] >= 8


# --- 3. a leak against a strong predictor ---------------------------------------------------------------------


def test_strong_predictors_are_not_leaks(polynomial) -> None:
    x, y = rd.table("iris")  # petal width alone: skill 0.93 (before: skipped, 30 val samples; 0.9 warned)
    assert audit(splits(x, y), "target-leakage").status == "pass"
    # y = sin(3x) + noise a tenth of its spread: skill 0.976 (before: warn)
    assert audit(dict(zip(("train", "val"), polynomial, strict=True)), "target-leakage", task="regression").status == "pass"
    # pytorch/examples regression: y a noise-free polynomial of x is the curve to fit (before: fail)
    r = audit(splits(*rd.polynomial_regression()), "target-leakage", task="regression")
    assert r.status == "pass" and r.evidence["strongest"]["skill"] > 0.999 and r.evidence["best"]["r2"] < 0.9
    # time_sequence_prediction: the target is the series one step on, 16 val series
    train, val = rd.sine_waves()
    assert audit({"train": train, "val": val}, "target-leakage", task="regression").status == "pass"


def test_copies_of_the_target_leak_on_any_split() -> None:
    x, y = rd.table("iris")
    r = audit(splits(np.c_[x, y].astype(np.float32), y), "target-leakage")  # the label id itself, 30 val samples
    assert r.status == "fail" and r.evidence["best"]["feature"] == 4 and r.evidence["best"]["equal"] == 1.0
    xd, yd = rd.table("diabetes")
    noisy = np.c_[xd, yd + 0.01 * yd.std() * np.random.default_rng(1).normal(size=len(yd))].astype(np.float32)
    single = result(data((noisy, yd), task="regression"), "target-leakage")  # one split: judged by k-fold
    assert single.status == "fail" and single.evidence["best"]["feature"] == 10
    train, val = rd.sine_waves(shift=0)  # the shift forgotten: target = input, on 16 val series
    r = audit({"train": train, "val": val}, "target-leakage", task="regression")
    assert r.status == "fail" and r.evidence["target_is_input"] == 1.0


# --- 4. token windows: overlapping text, not natural repetition -----------------------------------------------


@pytest.fixture(scope="module")
def text_windows():
    return rd.byte_windows(rd.stdlib_source()[:40000], 32, 1)


def test_a_contiguous_split_of_source_code_windows_passes(text_windows) -> None:
    """Boilerplate lines repeat: 3.8% of val windows equal a train window (before: fail at 1%)."""
    x, y = text_windows
    cut = int(0.9 * len(x))
    parts = {"train": (x[:cut], y[:cut]), "val": (x[cut:], y[cut:])}
    r = audit(parts, "split-leakage", task="sequence", kind="text", num_classes=256)
    assert r.status == "pass", r.summary
    assert r.evidence["shared"]["train-val"]["exact"] > 0 and r.evidence["windows"]["val"]["fraction"] < 0.2


def test_a_random_split_of_overlapping_windows_fails(text_windows) -> None:
    r = audit(splits(*text_windows, train=0.9), "split-leakage", task="sequence", kind="text", num_classes=256)
    assert r.status == "fail" and r.evidence["windows"]["val"]["fraction"] > 0.9


def test_windows_that_do_not_overlap_pass_a_random_split() -> None:
    """Stride = window length: a random split shares no text beyond natural repetition."""
    x, y = rd.byte_windows(rd.stdlib_source()[:120000], 32, 32)
    r = audit(splits(x, y, train=0.9), "split-leakage", task="sequence", kind="text", num_classes=256)
    assert r.status == "pass", r.summary


# --- 5. a source that repeats its samples -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def names():
    names = rd.function_names()
    alphabet = "".join(sorted(set("".join(names))))
    return rd.padded_next_token(rd.encode_names(names, alphabet))


def test_names_shared_because_the_source_repeats_them_warn(names) -> None:
    """16% of the function names repeat (get, copy, ...): a random split puts 31% of val names in train too."""
    r = audit(splits(*names, train=0.9), "split-leakage", task="sequence", kind="text")
    assert r.status == "warn"
    shared = r.evidence["shared"]["train-val"]
    assert shared["exact"] > 0 and r.evidence["train_duplicate_rate"]["exact"] > 0.1
    example = r.evidence["exact_examples"][0]
    assert example["held_out"]["split"] == "val" and example["earlier"]["split"] == "train" and example["tokens"]
    assert f"{shared['exact']} exact" in r.summary


def test_names_copied_into_val_fail(names) -> None:
    (x, y), (xv, yv) = rd.random_split(*names, 0.9)
    r = audit({"train": (x, y), "val": (np.r_[xv, x[:200]], np.r_[yv, y[:200]])}, "split-leakage",
              task="sequence", kind="text")
    assert r.status == "fail"


def _leakage(exact: int, size: int, train_rate: float) -> str:
    e = SplitLeakageEvidence(shared={"train-val": {"exact": exact, "near": 0, "size": size}},
                             fractions={"train-val": {"exact": exact / size, "near": 0.0}},
                             train_duplicate_rate={"exact": train_rate, "any": train_rate}, windows={},
                             exact_examples=[], near_examples=[])
    return SplitLeakage().judge(e, SplitLeakageThresholds()).status


def test_shared_samples_fail_only_beyond_what_train_duplicates_predict() -> None:
    assert _leakage(30, 200, 0.15) == "warn"  # 15% shared, train's own duplicates predict 15%
    assert _leakage(30, 200, 0.0) == "fail"  # the same share from a source with no repeats: copies put there
    assert _leakage(80, 200, 0.15) == "fail"  # 40%: more than twice the prediction, past its noise
    assert _leakage(1, 1000, 0.0) == "warn"  # one copy is worth a look, not a closed gate
    assert _leakage(3, 1000, 0.02) == "pass"  # 0.3% where train predicts 2%
    assert _leakage(225, 5997, 0.137) == "pass"  # a contiguous split of text: repeats crossing the cut only
    assert _leakage(100, 20000, 0.0025) == "warn"  # 100 copies where train repeats as often: worth reporting


# --- 6. warnings worth a look ---------------------------------------------------------------------------------


def test_raw_table_features_in_their_own_units_pass() -> None:
    for name in ("wine", "breast_cancer"):
        got = statuses(data(*splits(*rd.table(name)).values()), "input-stats", "outliers")
        assert got == {"input-stats": "pass", "outliers": "pass"}, (name, got)


def test_heavy_tailed_features_are_not_outliers() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    heavy = np.c_[rng.lognormal(0, 1.5, n), rng.pareto(1.5, n), rng.standard_t(3, n), rng.exponential(size=n),
                  rng.negative_binomial(1, 0.1, n)].astype(np.float32)
    assert audit(splits(heavy, rng.integers(0, 2, n)), "outliers").status == "pass"


def test_a_value_in_the_wrong_unit_and_a_sentinel_are_outliers() -> None:
    (x, y), val = rd.random_split(*rd.table("breast_cancer"))
    wrong = x.copy()
    wrong[7, 3] *= 1000  # one area in the wrong unit
    r = result(data((wrong, y), val), "outliers")
    assert r.status == "warn" and r.evidence["properties"]["norm"]["examples"][0]["index"] == 7
    sentinel = x.copy()
    sentinel[[3, 9, 11], 0] = -999  # missing values written as -999
    r = result(data((sentinel, y), val), "outliers")
    assert r.status == "warn" and r.evidence["feature_extremes"][0]["feature"] == 0
    wx, wy = rd.table("wine")
    (wt, wyt), wv = rd.random_split(wx, wy)
    hue = wt.copy()
    hue[4, 10] *= 60  # a small-scale feature: invisible in the sample's norm, found per feature
    assert result(data((hue, wyt), wv), "outliers").evidence["feature_extremes"][0]["feature"] == 10


def test_degenerate_inputs_still_warn() -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    raw = (digits.images * 255 / 16).astype(np.float32)  # raw 0-255 pixels
    assert audit(splits(raw, digits.target), "input-stats").status == "warn"
    x, y = rd.table("wine")
    nan = x.copy()
    nan[::9, 3] = np.nan
    got = statuses(data(*splits(nan, y).values()), "corrupt", "input-stats")
    assert got == {"corrupt": "fail", "input-stats": "warn"}
    stamped = np.c_[x, 1.7e9 + np.arange(len(x))].astype(np.float64)  # a unix timestamp: float32 loses it
    r = audit(splits(stamped, y), "input-stats")
    assert r.status == "warn" and "float32" in r.summary
