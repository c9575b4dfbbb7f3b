"""A CSV or Parquet table: one row a sample, a --target column, an optional split column; read in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnrecipe.audit.sources.core import AuditData, Chunk, Split
from nnrecipe.audit.sources.table_files import table_batches, table_columns, table_expected
from nnrecipe.errors import DataError, UsageError, did_you_mean

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
SPLIT_NAMES = ("train", "val", "test")
#: more distinct integer targets than this make a regression; more distinct text targets are refused
MAX_INTEGER_CLASSES = 50
MAX_CLASSES = 1000


def read_table(path: Path, target: str | None) -> AuditData:
    """The table's rows as vectors, split by its 'split' column when it has one (else all of them train)."""
    if path.stat().st_size == 0:
        raise DataError(f"audit: {str(path)!r} is empty (0 bytes); expected {table_expected(path)}")
    columns = table_columns(path)
    target = _target_column(path, columns, target)
    features = [c for c in columns if c != target]
    split_column = "split" if "split" in features else None
    if split_column:
        features.remove(split_column)
    scan = _table_scan(path, target, split_column)
    _check_table(path, columns, target, features, split_column, scan)
    task, classes = scan.task()
    splits = tuple(Split(name, scan.rows[name], _table_stream(path, name, target, features, classes, split_column))
                   for name in SPLIT_NAMES if scan.rows.get(name))
    return AuditData(name=path.stem, task=task, kind="table", splits=splits,
                     num_classes=len(classes) if classes else None, class_names=classes, feature_names=features,
                     origin="table")


def _target_column(path: Path, columns: list[str], target: str | None) -> str:
    """The --target column, which the table must have."""
    if target is None:
        raise UsageError(f"audit: {str(path)!r} is a table; name its target column with --target COLUMN "
                         f"(columns: {', '.join(columns[:20])}{', ...' if len(columns) > 20 else ''})")
    if target not in columns:
        raise UsageError(f"audit: the table {str(path)!r} has no column {target!r}{did_you_mean(target, columns)}; "
                         f"expected --target to name one of: {', '.join(columns[:20])}")
    return target


@dataclass
class _TableScan:
    """What the one pass before the audit finds: rows per split, the target's values, the rows without one."""

    rows: dict[str, int] = field(default_factory=dict)
    values: set[Any] = field(default_factory=set)
    numeric_float: bool = False
    missing: int = 0
    first_missing: int | None = None
    other_splits: dict[str, int] = field(default_factory=dict)

    def task(self) -> tuple[str, list[str] | None]:
        """Classification when the target is text, boolean or few integers; else regression."""
        integers = all(isinstance(v, (int, np.integer)) for v in self.values)
        if self.numeric_float or len(self.values) > MAX_CLASSES or (integers and len(self.values) > MAX_INTEGER_CLASSES):
            return "regression", None
        return "classification", sorted(str(v) for v in self.values)

    def add(self, frame: Any, target: str, split_column: str | None, seen: int) -> None:
        """One batch of rows, the first of which is data row `seen` + 1."""
        col = frame[target]
        absent = col.isna().to_numpy()
        if absent.any() and self.first_missing is None:
            self.first_missing = seen + int(np.argmax(absent)) + 1
        self.missing += int(absent.sum())
        if col.dtype.kind == "f":
            self.numeric_float = True
        elif not self.numeric_float and len(self.values) <= MAX_CLASSES:
            self.values.update(col.dropna().unique().tolist())
        names = frame[split_column].astype(str) if split_column else None
        for name, count in (names.value_counts().items() if names is not None else [("train", len(frame))]):
            bucket = self.rows if name in SPLIT_NAMES else self.other_splits
            bucket[str(name)] = bucket.get(str(name), 0) + int(count)


def _table_scan(path: Path, target: str, split_column: str | None) -> _TableScan:
    """A CSV is parsed whole here, every column: a ragged row or a byte that is not UTF-8 is found before the
    audit starts, as one error, not as every check failing on the profile's pass. A Parquet file's footer (its
    schema and row groups) is read when it is opened, and the scan reads the target and split columns only."""
    scan = _TableScan()
    seen = 0
    columns = None if path.suffix.lower() == ".csv" else [target] + ([split_column] if split_column else [])
    for frame in table_batches(path, 65536, columns):
        scan.add(frame, target, split_column, seen)
        seen += len(frame)
    return scan


def _check_table(path: Path, columns: list[str], target: str, features: list[str], split_column: str | None,
                 scan: _TableScan) -> None:
    """What a table must hold to be audited: rows, a feature, a target in every row, known split names."""
    where = f"the table {str(path)!r}"
    if not sum(scan.rows.values()) and not scan.other_splits:
        header = "a header row" if path.suffix.lower() == ".csv" else "columns"
        raise DataError(f"audit: {where} has {header} ({', '.join(columns[:20])}) but no rows; "
                        f"expected {table_expected(path)}")
    if not features:
        raise DataError(f"audit: {where} has no input column besides the target {target!r}"
                        f"{' and split' if split_column else ''}; expected at least one feature column")
    if scan.missing:
        raise DataError(f"audit: the target column {target!r} of {where} is empty in {scan.missing} row"
                        f"{'s' if scan.missing != 1 else ''} (the first is data row {scan.first_missing}); expected a "
                        "target in every row: drop or fill those rows")
    if not scan.numeric_float and len(scan.values) > MAX_CLASSES and not all(
            isinstance(v, (int, float, np.number)) for v in scan.values):
        raise DataError(f"audit: the target column {target!r} of {where} holds over {MAX_CLASSES} distinct text "
                        "values; expected class names (at most that many) or numbers")
    _check_splits(where, scan)


def _check_splits(where: str, scan: _TableScan) -> None:
    """The split column names only train, val and test, and marks some rows train."""
    if scan.other_splits:
        other = ", ".join(f"{k!r} ({v} row{'s' if v != 1 else ''})" for k, v in sorted(scan.other_splits.items())[:5])
        raise DataError(f"audit: the column 'split' of {where} names each row's split; expected the values "
                        f"{', '.join(SPLIT_NAMES)}, but it also holds {other}; rename those values, or rename the "
                        "column if it is a feature")
    if not scan.rows.get("train"):
        raise DataError(f"audit: the column 'split' of {where} marks no row 'train'; expected the training rows "
                        "marked train (and val, test for the others)")


def _table_stream(path: Path, split: str, target: str, features: list[str], classes: list[str] | None,
                  split_column: str | None) -> Callable[[int], Iterator[Chunk]]:
    lookup = {c: i for i, c in enumerate(classes)} if classes else None

    def stream(size: int) -> Iterator[Chunk]:
        seen = 0
        for frame in table_batches(path, size):
            if split_column is not None:
                frame = frame[frame[split_column].astype(str) == split]
            x = _table_features(frame[features])
            y_col = frame[target]
            y = (y_col.astype(str).map(lookup).to_numpy(dtype=np.int64) if lookup is not None
                 else y_col.to_numpy(dtype=np.float32))
            index = np.arange(seen, seen + len(frame))
            seen += len(frame)
            yield Chunk(split, index, x, y)

    return stream


def _table_features(frame: Any) -> np.ndarray:
    """Numeric columns as float; text/categorical columns as stable integer codes (a hash of the value)."""
    out = np.empty((len(frame), frame.shape[1]), dtype=np.float64)
    for j, name in enumerate(frame.columns):
        col = frame[name]
        if col.dtype.kind in "biuf":
            out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            # A per-value hash, not per-chunk codes: the same category must get the same number in every chunk.
            import pandas as pd

            codes = pd.util.hash_pandas_object(col.astype(str), index=False).to_numpy() % 1_000_003
            out[:, j] = np.where(col.isna().to_numpy(), np.nan, codes.astype(np.float64))
    return out
