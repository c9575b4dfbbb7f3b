"""A run folder can be trusted: unreadable files are set aside (never loaded, never deleted) and the work redone;
a tampered checkpoint cannot run code; written files keep a plain mode."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch

import nnrecipe as nr
from nnrecipe.engine.checkpoint import UnreadableFile, atomic_write_text, load_checkpoint, save_checkpoint
from nnrecipe.steps.journal import JOURNAL, Journal


class WritesAFile:
    """A pickle payload: unpickling it would create `marker` (a stand-in for any shell command)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path, str]]:
        return (Path.write_text, (self.marker, "pwned"))  # type: ignore[return-value]


def tampered(path: Path, marker: Path) -> Path:
    torch.save({"model": {}, "payload": WritesAFile(marker)}, path)
    return path


def test_a_pickle_payload_in_a_checkpoint_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with pytest.raises(UnreadableFile, match="objects other than tensors"):
        load_checkpoint(tampered(tmp_path / "unit.pt", marker))
    assert not marker.exists()
    # the same payload unpickled the unsafe way would have run: the test's payload is real
    pickle.loads(pickle.dumps(WritesAFile(marker)))
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"not a checkpoint at all"])
def test_truncated_empty_or_foreign_checkpoints_are_unreadable(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match="truncated, empty or not a checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("text", ["", '{"fingerprint": {"seed": 0}, "units": {"a"', "[1, 2, 3]", "\xff\xfe"])
def test_an_unreadable_journal_is_set_aside_and_the_run_starts_over(tmp_path: Path, text: str) -> None:
    (tmp_path / JOURNAL).write_text(text, encoding="latin-1")
    journal = Journal(tmp_path, {"seed": 0})
    assert journal.units == {} and len(journal.set_aside) == 1
    assert not (tmp_path / JOURNAL).exists() and journal.set_aside[0].read_text(encoding="latin-1") == text


def test_a_unit_whose_weights_cannot_be_read_is_done_again(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    journal = Journal(tmp_path, {"seed": 0})
    journal.finish("overfit/rung-0", {"val": {"loss": 1.0}}, model_state={"w": torch.zeros(2)})
    journal.finish("overfit/rung-1", {"val": {"loss": 0.5}}, model_state={"w": torch.ones(2)})
    tampered(tmp_path / "units" / "overfit--rung-1.pt", marker)
    again = Journal(tmp_path, {"seed": 0})
    assert again.done("overfit/rung-0") == {"val": {"loss": 1.0}}
    assert again.done("overfit/rung-1") is None  # redone, never loaded
    assert not marker.exists() and len(again.set_aside) == 1 and again.set_aside[0].exists()


def test_a_tampered_final_model_is_refused_by_load(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    (tmp_path / "final").mkdir()
    (tmp_path / "final" / "final.json").write_text(json.dumps({"chosen": "best", "table": []}))
    tampered(tmp_path / "final" / "best.pt", marker)
    with pytest.raises(nr.NnrecipeError, match="refusing"):
        nr.load(tmp_path)
    assert not marker.exists()


def test_written_files_get_the_mode_a_plain_open_gives(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.html", "x")
        save_checkpoint(tmp_path / "c.pt", a=1)
    finally:
        os.umask(mask)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "c.pt").stat().st_mode & 0o777 == 0o644
