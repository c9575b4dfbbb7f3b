"""Every data check catches its planted problem on a small generated dataset and passes the clean one."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import blobs, data, images, result, statuses

import nnrecipe as nr
import toy
from nnrecipe.runner import audit_report

DATA_IDS = ["corrupt", "class-balance", "duplicates", "split-leakage", "near-duplicates", "label-conflicts",
            "input-stats", "outliers", "label-issues", "target-leakage"]


def pictured(d, check_id: str):  # type: ignore[no-untyped-def]
    """The check's result, and the material of its picture that the report draws beside it."""
    report = audit_report(d, ids=[check_id])
    return report.result.checks[0], report.pictures.check(check_id)


@pytest.fixture(scope="module")
def clean_vectors():
    return blobs(600, seed=1), blobs(300, seed=2)


@pytest.fixture(scope="module")
def clean_images():
    return images(400, seed=1), images(200, seed=2)


def test_clean_vectors_pass_every_check(clean_vectors) -> None:
    got = statuses(data(*clean_vectors))
    assert got == {**{i: "pass" for i in DATA_IDS}, "sequence-alignment": "skip", "vocab-coverage": "skip"}


def test_clean_images_get_no_fail_and_only_the_unnormalized_warning(clean_images) -> None:
    got = statuses(data(*clean_images))
    assert "fail" not in got.values()
    assert got["input-stats"] == "warn"  # raw 0..255 pixels: the one thing to look at
    assert {k for k, v in got.items() if v == "warn"} == {"input-stats"}


def test_duplicates(clean_vectors) -> None:
    (x, y), val = clean_vectors
    x2, y2 = np.r_[x, x[:30]], np.r_[y, y[:30]]
    r, shown = pictured(data((x2, y2), val), "duplicates")
    assert r.status == "warn" and r.evidence["per_split"]["train"]["redundant"] == 30
    assert len(shown["pairs"]) == 8 and shown["pairs"][0]["a_input"] is not None
    # a loader that repeats every sample: most of the split are copies
    assert result(data((np.r_[x, x, x], np.r_[y, y, y]), val), "duplicates").status == "fail"


def test_split_leakage_exact_and_near(clean_vectors) -> None:
    (x, y), (xv, yv) = clean_vectors
    leaked_val = (np.r_[xv, x[:20]], np.r_[yv, y[:20]])
    r = result(data((x, y), leaked_val), "split-leakage")
    assert r.status == "fail" and r.evidence["shared"]["train-val"]["exact"] == 20
    noisy = x[:2] + np.random.default_rng(0).normal(0, 0.005, x[:2].shape).astype(np.float32)
    r = result(data((x, y), (np.r_[xv, noisy], np.r_[yv, y[:2]])), "split-leakage")
    assert r.status == "warn" and r.evidence["shared"]["train-val"] == {"exact": 0, "near": 2, "size": 302}


def test_near_duplicates_vectors_and_images(clean_vectors, clean_images) -> None:
    (x, y), val = clean_vectors
    rng = np.random.default_rng(3)
    near = x[:10] * 1.001 + rng.normal(0, 0.01, x[:10].shape).astype(np.float32)
    r = result(data((np.r_[x, near], np.r_[y, y[:10]]), val), "near-duplicates")
    assert r.status == "warn" and r.evidence["per_split"]["train"]["pairs"] == 10
    (xi, yi), vali = clean_images
    brighter = np.clip(xi[:5].astype(int) + 6, 0, 255).astype(np.uint8)  # re-exposed copies: pHash sees them
    r = result(data((np.r_[xi, brighter], np.r_[yi, yi[:5]]), vali), "near-duplicates")
    assert r.status == "warn" and r.evidence["per_split"]["train"]["pairs"] >= 5


def test_label_conflicts(clean_vectors) -> None:
    (x, y), val = clean_vectors
    flipped = (y[:5] + 1) % 4
    r = result(data((np.r_[x, x[:5]], np.r_[y, flipped]), val), "label-conflicts")
    assert r.status == "warn" and r.evidence["exact_conflict_groups"] == 5
    many = (np.r_[x, x[:100]], np.r_[y, (y[:100] + 1) % 4])
    assert result(data(many, val), "label-conflicts").status == "fail"


def test_corrupt(clean_vectors) -> None:
    (x, y), val = clean_vectors
    bad = x.copy()
    bad[7, 2] = np.nan
    bad[9] = 0.5  # a constant sample
    r = result(data((bad, y), val), "corrupt")
    assert r.status == "fail" and r.evidence["per_split"]["train"]["nonfinite_examples"] == [{"index": 7}]
    const = x.copy()
    const[9] = 0.5
    r = result(data((const, y), val), "corrupt")
    assert r.status == "warn" and r.evidence["per_split"]["train"]["constant"] == 1


def test_input_stats(clean_vectors) -> None:
    (x, y), (xv, yv) = clean_vectors
    # a table's features may come in their own units (3 orders of magnitude apart: fine); 7 apart is degenerate
    unit = np.array([1000.0] + [1.0] * 7, dtype=np.float32)
    assert result(data((x * unit, y), (xv * unit, yv)), "input-stats").status == "pass"
    swamped = np.array([1e7] + [1.0] * 7, dtype=np.float32)
    assert result(data((x * swamped, y), (xv * swamped, yv)), "input-stats").status == "warn"
    # val normalized differently from train: shifted by two stds
    r = result(data((x, y), (xv + 2 * x.std(0), yv)), "input-stats")
    assert r.status == "warn" and r.evidence["split_mean_shift"]["val"] > 1


def test_outliers(clean_vectors) -> None:
    (x, y), val = clean_vectors
    odd = x.copy()
    odd[42] = x[42] * 60  # a value in the wrong unit
    r, shown = pictured(data((odd, y), val), "outliers")
    assert r.status == "warn" and r.evidence["properties"]["norm"]["examples"][0]["index"] == 42
    assert shown["extremes"]["norm"]["high"][0]["sample"]["index"] == 42


def test_outliers_of_image_size() -> None:
    from nnrecipe.audit.sources import AuditData, Chunk, Split

    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (12, 12), dtype=np.uint8) for _ in range(200)] + [rng.integers(0, 255, (12, 90), dtype=np.uint8)]
    ys = np.r_[np.arange(200) % 2, 0]

    def stream(size: int):
        for s in range(0, len(imgs), size):
            yield Chunk("train", np.arange(s, min(s + size, len(imgs))), imgs[s:s + size], ys[s:s + size])

    d = AuditData("sizes", "classification", "image", (Split("train", len(imgs), stream),), num_classes=2)
    r = result(d, "outliers")
    assert r.status == "warn" and r.evidence["properties"]["aspect"]["examples"][0]["index"] == 200


def test_label_issues(clean_vectors) -> None:
    (x, y), (xv, yv) = clean_vectors
    rng = np.random.default_rng(5)
    noisy = y.copy()
    wrong = rng.choice(len(y), 60, replace=False)
    noisy[wrong] = (noisy[wrong] + rng.integers(1, 4, 60)) % 4
    r, shown = pictured(data((x, noisy), (xv, yv)), "label-issues")
    assert r.status == "warn"
    found = {c["index"] for c in r.evidence["candidates"] if c["split"] == "train"}
    assert len(found & set(wrong.tolist())) >= 0.8 * len(found)
    assert {"given", "predicted", "input"} <= set(shown["candidates"][0])


def test_label_issues_skips_when_the_quick_model_is_blind() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(500, 8)).astype(np.float32), rng.integers(0, 4, 500)
    assert result(data((x, y)), "label-issues").status == "skip"


def test_target_leakage(clean_vectors) -> None:
    (x, y), (xv, yv) = clean_vectors
    leak = lambda x, y: np.c_[x, y * 3.0 + 0.01 * np.random.default_rng(0).normal(size=len(y))].astype(np.float32)  # noqa: E731
    r = result(data((leak(x, y), y), (leak(xv, yv), yv)), "target-leakage")
    assert r.status == "fail" and r.evidence["best"]["feature"] == 8
    xr, yr = x, x.sum(1)  # every feature carries a share of the target: none alone predicts it
    xrv, yrv = xv, xv.sum(1)
    assert result(data((xr, yr), (xrv, yrv), task="regression"), "target-leakage").status == "pass"
    # a target that is a function of one feature is a curve to learn, not a leak; an affine copy of it is a leak
    cubic = result(data((xr, xr[:, 3] ** 3), (xrv, xrv[:, 3] ** 3), task="regression"), "target-leakage")
    assert cubic.status == "pass" and "determines the target" in cubic.summary
    copy = result(data((xr, 2 * xr[:, 3] + 1), (xrv, 2 * xrv[:, 3] + 1), task="regression"), "target-leakage")
    assert copy.status == "fail" and copy.evidence["best"]["feature"] == 3


def test_class_balance(clean_vectors) -> None:
    (x, y), (xv, yv) = clean_vectors
    keep = (y != 3) | (np.arange(len(y)) % 10 == 0)  # class 3 ten times rarer
    assert result(data((x[keep], y[keep]), (xv, yv)), "class-balance").status == "warn"
    sorted_split = (x[y != 3], y[y != 3])  # data sorted by label, split by position: class 3 only in val
    r = result(data(sorted_split, (xv, yv), num_classes=4), "class-balance")
    assert r.status == "fail" and r.evidence["missing_from_train"]["val"] == [3]


def _tokens(n: int, length: int = 24, vocab: int = 20, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, (n, length + 1))


def test_sequence_alignment_and_vocab() -> None:
    ids, ids_val = _tokens(200, seed=1), _tokens(50, seed=2)
    good = data((ids[:, :-1], ids[:, 1:]), (ids_val[:, :-1], ids_val[:, 1:]), task="sequence", kind="text")
    assert statuses(good, "sequence-alignment", "vocab-coverage", "duplicates", "split-leakage") == {
        "sequence-alignment": "pass", "vocab-coverage": "pass", "duplicates": "pass", "split-leakage": "pass"}
    copied = data((ids[:, :-1], ids[:, :-1]), (ids_val[:, :-1], ids_val[:, :-1]), task="sequence", kind="text")
    assert result(copied, "sequence-alignment").status == "fail"
    wrong_way = data((ids[:, 1:], ids[:, :-1]), (ids_val[:, 1:], ids_val[:, :-1]), task="sequence", kind="text")
    assert result(wrong_way, "sequence-alignment").status == "fail"
    shifted_vocab = ids_val + 20  # val encoded with another vocabulary
    other = data((ids[:, :-1], ids[:, 1:]), (shifted_vocab[:, :-1], shifted_vocab[:, 1:]), task="sequence", kind="text")
    assert result(other, "vocab-coverage").status == "fail"


def test_experiment_splits_feed_the_same_checks() -> None:
    """Through an Experiment (the runner's CheckContext) the data checks see the train/val datasets."""
    exp = toy.classification()
    got = {c.id: c.status for c in nr.check(exp, stages=["data"], device="cpu").checks}
    assert "fail" not in got.values() and got["duplicates"] == "pass"
    import torch
    from torch.utils.data import TensorDataset

    x, y = exp.train.tensors
    leaky = toy.classification(val=TensorDataset(x[:200].clone(), y[:200].clone()))
    res = nr.check(leaky, ids=["split-leakage"], device="cpu").checks[0]
    assert res.status == "fail" and res.evidence["shared"]["train-val"]["exact"] == 200
    assert torch.equal(exp.train.tensors[0], x)  # the user's data is left as found
