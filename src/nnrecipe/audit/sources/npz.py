"""An .npz archive of arrays x and y (and x_val, y_val, x_test, y_test), read without pickle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nnrecipe.audit.sources.arrays import array_split, array_task, inferred_ignore_index
from nnrecipe.audit.sources.core import AuditData, Split
from nnrecipe.errors import DataError, UsageError

NPZ_EXPECTED = "an .npz archive written by numpy.savez with numeric arrays x (inputs) and y (targets)"


def read_npz(path: Path) -> AuditData:
    """The archive's train split (x, y) and its val and test splits when it has them."""
    # An .npz member cannot be memory-mapped (numpy reads it whole on access): each array is read once, here,
    # and streamed in chunks from memory afterwards.
    with _npz_open(path) as archive:
        keys = set(archive.files)
        missing = [k for k in ("x", "y") if k not in keys]
        if missing:
            raise UsageError(f"audit: {str(path)!r} has arrays {sorted(keys)}; expected arrays named 'x' (inputs) "
                             f"and 'y' (targets), and it lacks {', '.join(missing)}")
        x, y = _npz_pair(archive, path, "x", "y")
        splits = [array_split("train", x, y)]
        for name in ("val", "test"):
            held_out = _held_out_split(archive, path, keys, name, x)
            if held_out is not None:
                splits.append(held_out)
    task, kind = array_task(x, y)
    ignore = inferred_ignore_index(task, [y]) if task != "regression" else None
    num_classes = int(np.max(y)) + 1 if task != "regression" else None
    return AuditData(name=path.stem, task=task, kind=kind, splits=tuple(splits), num_classes=num_classes,
                     origin="npz", ignore_index=ignore)


def _held_out_split(archive: Any, path: Path, keys: set[str], name: str, x: np.ndarray) -> Split | None:
    """The val or test split from x_{name} and y_{name}, or None when the archive has neither."""
    present = [k for k in (f"x_{name}", f"y_{name}") if k in keys]
    if len(present) == 1:
        raise DataError(f"audit: {str(path)!r} has {present[0]!r} without its partner; expected both "
                        f"x_{name} and y_{name} for a {name} split, or neither")
    if not present:
        return None
    xs, ys = _npz_pair(archive, path, f"x_{name}", f"y_{name}")
    if xs.shape[1:] != x.shape[1:]:
        raise DataError(f"audit: {str(path)!r} has x_{name} samples of shape {xs.shape[1:]} but x samples "
                        f"of shape {x.shape[1:]}; expected one sample shape in every split")
    return array_split(name, xs, ys)


def _npz_open(path: Path) -> Any:
    """The archive, opened without pickle; anything that is not a readable .npz is one DataError naming the file."""
    if path.stat().st_size == 0:
        raise DataError(f"audit: {str(path)!r} is empty (0 bytes); expected {NPZ_EXPECTED}")
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):  # a pickle file, not an archive of arrays
            raise DataError(f"audit: {str(path)!r} is a Python pickle, which nnrecipe does not load: unpickling a "
                            f"file can run any code it carries; expected {NPZ_EXPECTED}") from None
        raise _npz_unreadable(path, exc) from None
    except Exception as exc:  # BadZipFile (truncated), EOFError, OSError: the archive itself is broken
        raise _npz_unreadable(path, exc) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"audit: {str(path)!r} holds a single array (an .npy file), not an archive of named arrays; "
                        f"expected {NPZ_EXPECTED}: np.savez(path, x=inputs, y=targets)")
    return archive


def _npz_array(archive: Any, path: Path, key: str) -> np.ndarray:
    """One member, read without pickle: object arrays are refused, a damaged member is one DataError."""
    try:
        array = archive[key]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise _npz_unreadable(path, exc, key) from None
        raise DataError(
            f"audit: {str(path)!r} stores {key!r} as an object array, which numpy can only load by unpickling it, and "
            "unpickling a file can run any code it carries, so nnrecipe does not; expected numeric arrays: save "
            f"{key} as one array of numbers (np.stack samples of one shape, or pad them)") from None
    except Exception as exc:  # a corrupt member (BadZipFile: bad CRC, zlib.error, EOFError)
        raise _npz_unreadable(path, exc, key) from None
    if array.ndim == 0:
        raise DataError(f"audit: {str(path)!r} has {key!r} as a single value; expected one entry per sample")
    if array.dtype.kind not in "biuf":
        hint = (": map class names to ids with np.unique(y, return_inverse=True)" if key.startswith("y")
                and array.dtype.kind in "USO" else "")
        raise DataError(f"audit: {str(path)!r} has {key!r} of dtype {array.dtype}; expected numbers (booleans, "
                        f"integers or floats){hint}")
    return array


def _npz_pair(archive: Any, path: Path, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = _npz_array(archive, path, x_key), _npz_array(archive, path, y_key)
    if len(x) != len(y):
        raise DataError(f"audit: {str(path)!r} has {len(x)} inputs in {x_key!r} but {len(y)} targets in {y_key!r}; "
                        "expected one target per input")
    if len(x) == 0:
        raise DataError(f"audit: {str(path)!r} has no samples in {x_key!r}; expected at least one")
    return x, y


def _npz_unreadable(path: Path, exc: Exception, key: str | None = None) -> DataError:
    what = f"its array {key!r} cannot be read" if key else "it cannot be read as an .npz archive"
    return DataError(f"audit: {str(path)!r} is damaged: {what} ({type(exc).__name__}: {exc}); expected "
                     f"{NPZ_EXPECTED}: is it a truncated copy?")
