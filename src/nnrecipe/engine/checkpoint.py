"""Checkpoints and files that a killed run can never leave half-written: write to a temporary file, then rename."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from nnrecipe.errors import NnrecipeError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600: give it the mode a plain open() would have (or the replaced file's)
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_checkpoint(path: str | os.PathLike[str], **state: Any) -> None:
    """Save named state (state_dicts, numbers, RNG states) atomically with torch.save."""
    atomic_write_bytes(path, to_bytes(state))


def to_bytes(state: Any) -> bytes:
    """State as torch.save writes it, in memory: a checkpoint's bytes, or one blob to send to another process
    (tensors sent one by one would each hold a file descriptor open)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def from_bytes(blob: bytes) -> Any:
    """`to_bytes`'s state back, loaded as data only, as `load_checkpoint` loads a file."""
    with torch.serialization.safe_globals(_safe_classes()):
        return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)


class UnreadableFile(NnrecipeError):
    """A run-folder file that is truncated, empty, from another tool, or holds more than data (a pickled object
    that would run code on load): it is never loaded, only reported and set aside."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{str(path)!r} cannot be read safely: {reason}")
        self.path = path


def _safe_classes() -> list[Any]:
    """Plain-data classes that checkpoints may hold besides tensors and builtins: nnrecipe's own records, and
    numpy arrays and scalars (the report's recordings); none of them runs code when rebuilt."""
    import numpy as np

    from nnrecipe.engine.loop import EpochRecord, History

    core = getattr(np, "_core", None) or np.core  # numpy 2 renamed np.core to np._core
    dtypes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")] if hasattr(np, "dtypes") else []
    return [History, EpochRecord, core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype, *dtypes]


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """A checkpoint, loaded as data only (`weights_only`): a file that would need to run code to load (a pickled
    payload), or that is truncated or not a checkpoint at all, raises UnreadableFile instead."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(_safe_classes()):
            state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc) and "GLOBAL" not in str(exc):
            raise UnreadableFile(path, f"it is truncated, empty or not a checkpoint ({str(exc).splitlines()[0]})") from exc
        raise UnreadableFile(path, "it holds objects other than tensors and plain data, which loading would have to "
                             f"execute (tampered, or not written by nnrecipe): {str(exc).splitlines()[0]}") from exc
    except Exception as exc:  # truncated zip, empty file, another format: torch raises several kinds
        raise UnreadableFile(path, f"it is truncated, empty or not a checkpoint ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})") from exc
    if not isinstance(state, dict):
        raise UnreadableFile(path, f"expected a checkpoint dict, but it holds a {type(state).__name__}")
    return state


def set_aside(path: str | os.PathLike[str]) -> Path:
    """Rename an unreadable file out of the way (never delete it: it may be the user's), and return its new path."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    os.replace(path, aside)
    return aside
