"""The run folder as a place that can be trusted: checked before any work, held by one run at a time, and never
a place where a user's own files are overwritten.

- `check_destinations` runs before anything trains: an `--out` that is a file, a folder that cannot be written,
  a `--json` path inside a file or a read-only folder, and a folder holding a `result.json` or `report.html`
  that nnrecipe did not write are usage errors up front, not a crash after two minutes of training.
- Every folder nnrecipe writes into gets a marker file, `.nnrecipe`; the files it writes there are its own.
- `RunLock` keeps two runs from interleaving in one folder: the second is told which process holds it. A lock
  left by a process that no longer runs (kill -9) is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType

from nnrecipe.errors import UsageError

MARKER = ".nnrecipe"
LOCK = ".lock"
#: the files nnrecipe writes at a run folder's top level, which must not be a user's own
OWN_FILES = ("result.json", "report.html", "config.json", "journal.json")


def check_destinations(*, out_dir: str | os.PathLike[str] | None, json_path: str | os.PathLike[str] | None) -> None:
    """Raise UsageError when the outputs could not be written, or would overwrite files that are not nnrecipe's."""
    if json_path is not None:
        path = Path(json_path)
        if path.is_dir():
            raise UsageError(f"--json {str(path)!r}: expected a file path, but it is a folder")
        _writable_folder(path.parent, what=f"--json {str(path)!r}")
    if out_dir is None:
        return
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {str(folder)!r}: expected a folder, but it is a file")
    _writable_folder(folder, what=f"--out {str(folder)!r}")
    if folder.is_dir() and not (folder / MARKER).exists():
        foreign = [name for name in OWN_FILES if (folder / name).exists() and not _written_by_nnrecipe(folder / name)]
        if foreign:
            raise UsageError(f"--out {str(folder)!r} holds {', '.join(foreign)} that nnrecipe did not write; it would "
                             "overwrite them: choose another folder (or move those files)")


def mark(folder: str | os.PathLike[str]) -> None:
    """Record that nnrecipe writes into `folder` (before it writes anything there)."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    marker = path / MARKER
    if not marker.exists():
        from nnrecipe import __version__

        marker.write_text(json.dumps({"written_by": "nnrecipe", "version": __version__}) + "\n")


def _writable_folder(folder: Path, *, what: str) -> None:
    """The folder, or the nearest of its parents that exists, must be a folder this process can write into."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise UsageError(f"{what}: {str(existing)!r} is a file, not a folder")
    try:  # a real write, not os.access: root passes every permission bit, a read-only mount does not
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UsageError(f"{what}: cannot write into {str(existing)!r} ({exc.strerror or exc})") from None


def _written_by_nnrecipe(path: Path) -> bool:
    """A file from an earlier nnrecipe run (one made before run folders were marked)."""
    try:
        head = path.read_text(errors="replace")[:4096]
    except OSError:
        return False
    if path.suffix == ".json":
        return '"nnrecipe"' in head or '"fingerprint"' in head or '"chosen"' in head
    return "nnrecipe" in head


class RunLock:
    """`with RunLock(folder, command=...)`: hold the run folder for this process, or say who holds it."""

    def __init__(self, folder: str | os.PathLike[str], *, command: str) -> None:
        self.path = Path(folder) / LOCK
        self.command = command
        self.held = False

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "command": self.command}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                other = self._holder()
                if other is not None and _alive(other):
                    raise UsageError(f"the run folder {str(self.path.parent)!r} is in use by process {other.get('pid')} "
                                     f"on {other.get('host')} (started {other.get('started')}: "
                                     f"{other.get('command')}); wait for it to finish or choose another --out") from None
                self.path.unlink(missing_ok=True)  # left by a process that no longer runs: take it over
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(holder, f)
            self.held = True
            return self
        raise UsageError(f"could not take the lock {str(self.path)!r}: another process keeps creating it")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def _holder(self) -> dict[str, object] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def _alive(holder: dict[str, object]) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # another machine's process: nothing here can tell it is gone
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
