"""A folder of text files: one file a sample, its UTF-8 bytes as byte-level token sequences (vocabulary 256)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnrecipe.audit.sources.core import AuditData, Chunk, Split
from nnrecipe.audit.sources.reader import chunk_ranges, read_samples, stack_targets

#: what a text folder holds; other files (notes, markdown, binaries) do not make a folder a text corpus
TEXT_SUFFIXES = (".txt", ".text")


def is_text(path: Path) -> bool:
    """A text file of the corpus (by suffix)."""
    return path.suffix.lower() in TEXT_SUFFIXES and path.is_file()


def read_text_folder(root: Path, splits: list[tuple[str, Path]]) -> AuditData:
    """Text files as byte-level token sequences (vocabulary 256): one file is one sample."""
    out = []
    for name, folder in splits:
        files = sorted(f for f in folder.rglob("*") if is_text(f))
        out.append(Split(name, len(files), _text_stream(name, files), _text_fetch(files)))
    return AuditData(name=root.name, task="sequence", kind="text", splits=tuple(out), num_classes=256,
                     origin="text-folder")


def _text_fetch(files: list[Path]) -> Callable[[Sequence[int]], list[Any]]:
    return lambda idx: [np.frombuffer(files[int(i)].read_bytes(), np.uint8)[:-1].astype(np.int64) for i in idx]


def _utf8_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    raw.decode("utf-8")  # text that is not UTF-8 is most likely a binary file in the wrong place
    return raw


def _next_token_pair(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    ids = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
    # next-token pairs: the target is the input shifted by one
    return ids[:-1], ids[1:]


def _text_stream(split: str, files: list[Path]) -> Callable[[int], Iterator[Chunk]]:
    def stream(size: int) -> Iterator[Chunk]:
        for positions in chunk_ranges(len(files), size):
            read = read_samples(split, positions, lambda i: _utf8_bytes(files[i]),
                                lambda _i, raw: _next_token_pair(raw), path_of=lambda i: str(files[i]))
            yield Chunk(split, read.kept, read.xs, stack_targets(read.ys), paths=read.paths, failures=read.failures)

    return stream
