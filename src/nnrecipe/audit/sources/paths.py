"""A data path given to `nnrecipe audit PATH`: which source reads it (by file suffix, or what a folder holds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nnrecipe.audit.sources.core import AuditData
from nnrecipe.audit.sources.images import IMAGE_SUFFIXES, read_image_folder
from nnrecipe.audit.sources.npz import read_npz
from nnrecipe.audit.sources.table import TABLE_SUFFIXES, read_table
from nnrecipe.audit.sources.text import TEXT_SUFFIXES, is_text, read_text_folder
from nnrecipe.errors import DataError, UsageError

#: the reader of each data file, by its lower-cased suffix, given the path and --target
FILE_READERS: dict[str, Callable[[Path, str | None], AuditData]] = {
    ".npz": lambda path, _target: read_npz(path),  # an .npz names its arrays x and y: --target is not read
    **{suffix: read_table for suffix in TABLE_SUFFIXES},
}


def is_spec(text: str) -> bool:
    """A spec is a built-in's name or a .py file; anything else given to `audit` is a data path."""
    from nnrecipe.builtin import BUILTINS

    return text in BUILTINS or text.endswith(".py")


def from_path(path: str | Path, *, target: str | None = None) -> AuditData:
    """An image folder, a CSV/Parquet table, an `.npz` with `x` and `y`, or a folder of text files."""
    p = Path(path)
    if not p.exists():
        raise UsageError(
            f"audit: {str(p)!r} does not exist; expected a spec (.py or a built-in name), an image folder (one "
            "sub-folder per class), a CSV or Parquet table, an .npz with x and y, or a folder of text files"
        )
    if p.is_file():
        suffix = p.suffix.lower()
        reader = FILE_READERS.get(suffix)
        if reader is None:
            raise UsageError(f"audit: {str(p)!r} is a {suffix or 'suffix-less'} file; expected a .csv, .parquet or "
                             ".npz file, or a folder")
        return reader(p, target)
    if not p.is_dir():
        raise UsageError(f"audit: {str(p)!r} is neither a regular file nor a folder (a device, a socket or a pipe?); "
                         "expected a .csv, .parquet or .npz file, or a folder")
    if target is not None:
        raise UsageError("audit: --target names the target column of a CSV or Parquet table, but "
                         f"{str(p)!r} is a folder")
    return _folder(p)


def _split_dirs(root: Path) -> list[tuple[str, Path]]:
    """A folder holding train/ val/ test/ sub-folders is split; any other folder is one 'train' split."""
    named = [(name, root / name) for name in ("train", "val", "test") if (root / name).is_dir()]
    return named if named and (root / "train").is_dir() else [("train", root)]


def _folder(root: Path) -> AuditData:
    try:
        splits = _split_dirs(root)
        first = splits[0][1]
        class_dirs = sorted(d for d in first.iterdir() if d.is_dir())
        files = [f for d in class_dirs for f in d.iterdir() if f.is_file()]
        if class_dirs and any(f.suffix.lower() in IMAGE_SUFFIXES for f in files):
            return read_image_folder(root, splits, [d.name for d in class_dirs])
        if any(is_text(f) for f in first.rglob("*")):
            return read_text_folder(root, splits)
        found = sorted(str(f.relative_to(first)) for f in first.rglob("*") if f.is_file())
    except OSError as exc:  # a folder that cannot be listed (permissions, a vanished network mount)
        raise DataError(f"audit: cannot read the folder {str(root)!r} ({type(exc).__name__}: {exc}); expected a "
                        "readable folder of images (one sub-folder per class) or of .txt files") from None
    held = (f"it holds {len(found)} other file{'s' if len(found) != 1 else ''} ({', '.join(found[:5])}"
            f"{', ...' if len(found) > 5 else ''})" if found else "it holds no files")
    raise DataError(
        f"audit: the folder {str(root)!r} holds neither images in one sub-folder per class "
        f"({', '.join(IMAGE_SUFFIXES)}) nor text files ({', '.join(TEXT_SUFFIXES)}): {held}; expected one of those"
    )
