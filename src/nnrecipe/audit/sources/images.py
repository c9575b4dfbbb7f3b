"""An image folder: one sub-folder per class, images decoded one file at a time (a broken file is a failure)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnrecipe.audit.sources.core import AuditData, Chunk, Split
from nnrecipe.audit.sources.reader import chunk_ranges, read_samples, stack_if_same
from nnrecipe.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def read_image_folder(root: Path, splits: list[tuple[str, Path]], classes: list[str]) -> AuditData:
    """Each split folder's images, labelled by the class folder they sit in."""
    out = []
    for name, folder in splits:
        files = [(f, c) for c, cls in enumerate(classes) if (folder / cls).is_dir()
                 for f in sorted((folder / cls).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
        extra = sorted(d.name for d in folder.iterdir() if d.is_dir() and d.name not in classes)
        if extra:
            raise DataError(f"audit: split {name!r} of {str(root)!r} has class folders {extra} that the first split "
                            f"does not have; expected the same class folders in every split ({classes})")
        out.append(Split(name, len(files), _image_stream(name, files), _image_fetch(files)))
    return AuditData(name=root.name, task="classification", kind="image", splits=tuple(out),
                     num_classes=len(classes), class_names=classes, origin="image-folder")


def _image_fetch(files: list[tuple[Path, int]]) -> Callable[[Sequence[int]], list[Any]]:
    return lambda idx: [read_image(files[int(i)][0]) for i in idx]


def _image_stream(split: str, files: list[tuple[Path, int]]) -> Callable[[int], Iterator[Chunk]]:
    def stream(size: int) -> Iterator[Chunk]:
        for positions in chunk_ranges(len(files), size):
            # truncated or not an image: listed in the report, never an abort
            read = read_samples(split, positions, lambda i: read_image(files[i][0]),
                                lambda i, image: (image, files[i][1]), path_of=lambda i: str(files[i][0]))
            yield Chunk(split, read.kept, stack_if_same(read.xs), np.asarray(read.ys, dtype=np.int64),
                        paths=read.paths, failures=read.failures)

    return stream


def read_image(path: Path) -> np.ndarray:
    """An image as uint8 (H, W) or (H, W, C); `load()` forces the full decode so truncation is caught here."""
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        if img.mode not in ("L", "RGB"):
            img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
            if img.mode == "RGBA":
                img = img.convert("RGB")
        return np.asarray(img)
