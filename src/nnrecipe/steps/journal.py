"""The run folder's memory: which units of work (ladder rungs, candidates) are finished, and their results.

`journal.json` maps each finished unit to its result; `units/<unit>.pt` holds its kept weights; `partial/<unit>.pt`
is the per-epoch checkpoint of the unit in progress. Every file is written atomically, so a run killed at any
moment leaves either the old or the new version of each. A journal written under other settings (seed,
budget, experiment) is not reused: the run starts over and says so. A journal or weights file that cannot be
read (truncated, empty, from another tool, or holding more than data) is set aside under a new name, never
deleted and never loaded, and the work it stood for is done again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from nnrecipe.engine.checkpoint import UnreadableFile, atomic_write_json, load_checkpoint, save_checkpoint, set_aside

JOURNAL = "journal.json"


class Journal:
    """Finished units of work, kept in `folder` (or only in memory when the run keeps no folder)."""

    def __init__(self, folder: Path | None, fingerprint: dict[str, Any]) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self.units: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}  # in-memory kept weights when there is no folder
        self.resumed = False
        self.discarded = False
        #: unreadable files found and renamed out of the way (the run folder's note says where)
        self.set_aside: list[Path] = []
        self._weights: dict[str, dict[str, Any]] = {}  # finished units' weights, read once when verified
        if folder is not None:
            self._load(folder / JOURNAL)

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        try:
            saved = json.loads(path.read_text())
            if not (isinstance(saved, dict) and isinstance(saved.get("units", {}), dict)):
                raise ValueError(f"expected a JSON object with 'fingerprint' and 'units', but got {type(saved).__name__}")
        except (ValueError, UnicodeDecodeError):  # truncated, empty, or another tool's file
            self.set_aside.append(set_aside(path))
            return
        if saved.get("fingerprint") != self.fingerprint:
            # another run's leftovers: never mix them into this one
            assert self.folder is not None
            for sub in ("units", "partial"):
                shutil.rmtree(self.folder / sub, ignore_errors=True)
            self.discarded = True
            return
        self.units = saved.get("units", {})
        self.resumed = bool(self.units)

    def done(self, key: str) -> dict[str, Any] | None:
        """The result of a finished unit whose weights can be read, else None (the unit is to be done again)."""
        result = self.units.get(key)
        if result is None or self.folder is None or key in self._weights:
            return result
        path = self.folder / "units" / f"{_filename(key)}.pt"
        try:
            self._weights[key] = load_checkpoint(path)
        except (UnreadableFile, FileNotFoundError):
            if path.exists():
                self.set_aside.append(set_aside(path))
            del self.units[key]
            return None
        return result

    def partial(self, key: str) -> Path | None:
        """Where the unit in progress checkpoints every epoch (None without a run folder)."""
        if self.folder is None:
            return None
        return self.folder / "partial" / f"{_filename(key)}.pt"

    def finish(self, key: str, result: dict[str, Any], *, model_state: dict[str, Any], extras: Any = None) -> None:
        """Record a finished unit: its weights first, then the journal entry, then drop its partial checkpoint."""
        self.units[key] = result
        if self.folder is None:
            self.models[key] = {"model": model_state, "extras": extras}
            return
        save_checkpoint(self.folder / "units" / f"{_filename(key)}.pt", model=model_state, extras=extras)
        atomic_write_json(self.folder / JOURNAL, {"fingerprint": self.fingerprint, "units": self.units})
        partial = self.partial(key)
        if partial is not None:
            partial.unlink(missing_ok=True)

    def saved(self, key: str) -> dict[str, Any]:
        """The kept weights (`model`) and extras of a finished unit."""
        if self.folder is None:
            return self.models[key]
        if key not in self._weights:
            self._weights[key] = load_checkpoint(self.folder / "units" / f"{_filename(key)}.pt")
        return self._weights[key]


def _filename(key: str) -> str:
    return key.replace("/", "--")
