"""Every source type audited end to end through the CLI: exit codes and the JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import blobs, images

from nnrecipe.cli import main

SPECS = Path(__file__).parent.parent / "spec_files"


def audit(*args: str, tmp_path: Path) -> tuple[int, dict]:
    out = tmp_path / "audit.json"
    code = main(["audit", *args, "--json", str(out)])
    return code, (json.loads(out.read_text()) if out.exists() else {})


def by_id(doc: dict) -> dict[str, dict]:
    return {c["id"]: c for c in doc["checks"]}


def write_image_folder(root: Path, *, truncate: bool) -> Path:
    from PIL import Image

    (x, y), (xv, yv) = images(60, seed=1), images(30, seed=2)
    for split, xs, ys in (("train", x, y), ("val", xv, yv)):
        for i, (img, label) in enumerate(zip(xs, ys, strict=True)):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i}.png")
    if truncate:
        victim = root / "train" / "class0" / "broken.jpg"
        Image.fromarray(x[0]).convert("RGB").save(victim, quality=90)
        victim.write_bytes(victim.read_bytes()[: 200])  # cut off mid-stream, as a failed download leaves it
    return root


def test_image_folder_with_a_truncated_file_is_audited_not_aborted(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "imgs", truncate=True)
    code, doc = audit(str(root), tmp_path=tmp_path)
    checks = by_id(doc)
    assert code == 1 and checks["corrupt"]["status"] == "fail"
    unreadable = checks["corrupt"]["evidence"]["per_split"]["train"]["unreadable_examples"]
    assert len(unreadable) == 1 and unreadable[0]["path"].endswith("broken.jpg")
    assert checks["class-balance"]["status"] == "pass" and checks["duplicates"]["status"] == "pass"
    assert all(c["status"] != "error" for c in doc["checks"]), [c["summary"] for c in doc["checks"] if c["status"] == "error"]


def test_clean_image_folder_exits_0(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "imgs", truncate=False)
    code, doc = audit(str(root), tmp_path=tmp_path)
    assert code == 0, [(c["id"], c["summary"]) for c in doc["checks"] if c["status"] == "fail"]
    assert by_id(doc)["split-leakage"]["status"] == "pass"


def _frame(leak: bool):  # type: ignore[no-untyped-def]
    import pandas as pd

    (x, y), (xv, yv) = blobs(300, seed=1), blobs(150, seed=2)
    frame = pd.DataFrame(np.r_[x, xv], columns=[f"f{j}" for j in range(x.shape[1])])
    frame["label"] = [f"c{v}" for v in np.r_[y, yv]]
    frame["split"] = ["train"] * len(y) + ["val"] * len(yv)
    if leak:
        frame["label_code"] = np.r_[y, yv] * 10
    return frame


def test_csv_clean_and_with_a_leaked_column(tmp_path: Path) -> None:
    clean = tmp_path / "clean.csv"
    _frame(leak=False).to_csv(clean, index=False)
    code, doc = audit(str(clean), "--target", "label", tmp_path=tmp_path)
    assert code == 0 and by_id(doc)["class-balance"]["evidence"]["counts"]["val"]
    leaky = tmp_path / "leaky.csv"
    _frame(leak=True).to_csv(leaky, index=False)
    code, doc = audit(str(leaky), "--target", "label", tmp_path=tmp_path)
    assert code == 1 and by_id(doc)["target-leakage"]["evidence"]["best"]["feature"] == "label_code"


def test_parquet_with_planted_duplicates(tmp_path: Path) -> None:
    frame = _frame(leak=False)
    frame = frame.iloc[list(range(len(frame))) + [0, 1, 2]]  # three train rows repeated
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, index=False)
    code, doc = audit(str(path), "--target", "label", tmp_path=tmp_path)
    assert code == 0 and by_id(doc)["duplicates"]["status"] == "warn"
    assert by_id(doc)["duplicates"]["evidence"]["per_split"]["train"]["redundant"] == 3


def test_table_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.csv"
    _frame(leak=False).to_csv(path, index=False)
    assert main(["audit", str(path), "--target", "lable"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no column 'lable'" in err and "did you mean 'label'" in err
    assert main(["audit", str(path)]) == 2 and "--target" in capsys.readouterr().err
    assert main(["audit", str(tmp_path / "missing")]) == 2
    assert "does not exist" in " ".join(capsys.readouterr().err.split())


def test_npz_with_leakage_between_splits(tmp_path: Path) -> None:
    (x, y), (xv, yv) = blobs(400, seed=1), blobs(200, seed=2)
    path = tmp_path / "d.npz"
    np.savez(path, x=x, y=y, x_val=np.r_[xv, x[:10]], y_val=np.r_[yv, y[:10]])
    code, doc = audit(str(path), tmp_path=tmp_path)
    assert code == 1 and by_id(doc)["split-leakage"]["status"] == "fail"
    np.savez(path, x=x, y=y, x_val=xv, y_val=yv)
    assert audit(str(path), tmp_path=tmp_path)[0] == 0
    np.savez(tmp_path / "bad.npz", inputs=x)
    assert main(["audit", str(tmp_path / "bad.npz")]) == 2


def test_text_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    words = ["data", "model", "loss", "batch", "seed", "layer", "train", "val"]
    for split, n in (("train", 30), ("val", 10)):
        (tmp_path / "txt" / split).mkdir(parents=True)
        for i in range(n):
            text = " ".join(rng.choice(words, 40))
            (tmp_path / "txt" / split / f"{i}.txt").write_text(text)
    (tmp_path / "txt" / "train" / "binary.txt").write_bytes(b"\xff\xfe\x00\x81junk")
    code, doc = audit(str(tmp_path / "txt"), tmp_path=tmp_path)
    checks = by_id(doc)
    assert checks["sequence-alignment"]["status"] == "pass" and checks["vocab-coverage"]["status"] == "pass"
    assert checks["corrupt"]["status"] == "fail" and code == 1  # the non-UTF-8 file is listed


def test_spec_audit_runs_only_data_checks(tmp_path: Path) -> None:
    code, doc = audit(str(SPECS / "good.py"), tmp_path=tmp_path)
    assert {c["stage"] for c in doc["checks"]} == {"data"}
    assert code == (1 if any(c["status"] == "fail" for c in doc["checks"]) else 0)
