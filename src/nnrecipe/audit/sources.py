"""Where audited samples come from: one streaming view over an Experiment's splits or a data path.

Every source yields `Chunk`s — a few thousand samples at a time, in index order — so the audit never holds a
whole dataset. A sample that cannot be read (a truncated JPEG, a text file that is not UTF-8) is recorded as a
`Failure` in its chunk and the stream goes on.

Kinds of data, which decide the properties and hashes the profile computes:
  image   (H, W) or (H, W, C) arrays, channels last; an image folder may mix sizes (chunk.x is then a list)
  signal  1-D float arrays where neighbouring values belong together (MNIST-1D, audio)
  vector  1-D float arrays of unrelated features (tables, embeddings)
  tokens  1-D integer arrays of token ids (sequence tasks); lengths may differ (chunk.x is then a list)

Targets may carry an ignore index (`AuditData.ignore_index`): the value the loss skips, such as -1 padding after
the end of a sequence in next-token targets. Every data check leaves those positions out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nnrecipe.errors import DataError, NnrecipeError, UsageError

Kind = Literal["image", "signal", "vector", "tokens"]
KINDS: tuple[Kind, ...] = ("image", "signal", "vector", "tokens")
CHUNK = 4096
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
#: what a text folder holds; other files (notes, markdown, binaries) do not make a folder a text corpus
TEXT_SUFFIXES = (".txt", ".text")


@dataclass(frozen=True)
class Failure:
    """A sample that could not be read: where it is and what went wrong."""

    split: str
    index: int
    path: str | None
    message: str


@dataclass
class Chunk:
    """Consecutive samples of one split. `x` is an array (n, ...) when the samples share a shape, else a list."""

    split: str
    index: np.ndarray  # (n,) positions in the split
    x: np.ndarray | list[np.ndarray]
    y: np.ndarray  # (n,) class ids or values, or (n, ...) per-sample targets
    paths: list[str] | None = None
    failures: list[Failure] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.index)


@dataclass(frozen=True)
class Split:
    """One split: its size and a function streaming its chunks."""

    name: str
    size: int
    stream: Callable[[int], Iterator[Chunk]]
    #: random access to a few inputs by position, for pictures of flagged samples; None if the source cannot seek
    fetch: Callable[[Sequence[int]], list[Any]] | None = None

    def chunks(self, chunk_size: int = CHUNK) -> Iterator[Chunk]:
        return self.stream(chunk_size)


@dataclass(frozen=True)
class AuditData:
    """What the data checks audit: named splits streamed in chunks, the task and the kind of inputs."""

    name: str
    task: str  # classification | regression | sequence
    kind: Kind
    splits: tuple[Split, ...]
    num_classes: int | None = None
    class_names: Sequence[str] | None = None
    feature_names: Sequence[str] | None = None
    origin: str = "experiment"
    #: the target value the loss skips (padding, unlabelled samples), or None
    ignore_index: int | None = None

    def split(self, name: str) -> Split | None:
        return next((s for s in self.splits if s.name == name), None)


# --- an Experiment's datasets -------------------------------------------------------------------------------


def from_experiment(exp: Any) -> AuditData:
    """The train / val / test datasets of an `Experiment`, streamed without collating a whole split."""
    splits = tuple(_dataset_split(name, ds) for name, ds in (("train", exp.train), ("val", exp.val), ("test", exp.test))
                   if ds is not None)
    x0, _ = exp.train[0]
    kind = _experiment_kind(exp, np.asarray(_numpy(x0)))
    from nnrecipe.engine.data import infer_num_classes

    return AuditData(name=exp.name, task=exp.task, kind=kind, splits=splits, num_classes=infer_num_classes(exp),
                     class_names=exp.class_names, origin="experiment", ignore_index=_ignore_index(exp))


def _ignore_index(exp: Any) -> int | None:
    """The engine's ignore index (the field, the loss's own, a lone negative target, a value the loss skips)."""
    from nnrecipe.engine.targets import ignore_index

    try:
        return ignore_index(exp)
    except Exception:  # targets the engine cannot stack: the preflight reports them; the audit reads what it can
        return exp.ignore_index if isinstance(getattr(exp, "ignore_index", None), int) else None


def _experiment_kind(exp: Any, x0: np.ndarray) -> Kind:
    declared = exp.meta.get("kind")
    if declared in KINDS:
        return declared  # type: ignore[no-any-return]
    if exp.task == "sequence":
        return "tokens"
    if x0.ndim >= 2:
        return "image"
    return "vector"


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()  # type: ignore[no-any-return]
    return np.asarray(value)


def _dataset_split(name: str, ds: Any) -> Split:
    from nnrecipe.engine.data import tensors_of

    tensors = tensors_of(ds)
    if tensors is not None:
        x_all, y_all = tensors

        def stream_tensors(size: int) -> Iterator[Chunk]:
            for start in range(0, len(x_all), size):
                stop = min(start + size, len(x_all))
                yield Chunk(name, np.arange(start, stop), _numpy(x_all[start:stop]), _numpy(y_all[start:stop]))

        return Split(name, len(x_all), stream_tensors, lambda idx: [_numpy(x_all[int(i)]) for i in idx])

    def stream_items(size: int) -> Iterator[Chunk]:
        for start in range(0, len(ds), size):
            yield _collate_items(name, ds, range(start, min(start + size, len(ds))))

    return Split(name, len(ds), stream_items, lambda idx: [_numpy(ds[int(i)][0]) for i in idx])


def _collate_items(split: str, ds: Any, positions: range) -> Chunk:
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    kept: list[int] = []
    failures: list[Failure] = []
    for i in positions:
        try:
            x, y = ds[i]
        except Exception as exc:  # the user's dataset raised on this sample: record it, go on
            failures.append(Failure(split, i, None, f"{type(exc).__name__}: {exc}"))
            continue
        xs.append(_numpy(x))
        ys.append(_numpy(y))
        kept.append(i)
    return Chunk(split, np.asarray(kept, dtype=np.int64), _stack_if_same(xs), _stack_targets(ys), failures=failures)


def _stack_if_same(xs: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    if xs and all(x.shape == xs[0].shape for x in xs):
        return np.stack(xs)
    return xs


def _stack_targets(ys: list[Any]) -> np.ndarray:
    if not ys:
        return np.zeros(0)
    arrays = [np.asarray(y) for y in ys]
    if all(a.shape == arrays[0].shape for a in arrays):
        return np.stack(arrays)
    out = np.empty(len(arrays), dtype=object)  # ragged per-sample targets (token sequences of varied length)
    out[:] = arrays
    return out


# --- a data path: `nnrecipe audit PATH` ---------------------------------------------------------------------


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
        if suffix == ".npz":
            return _npz(p)
        if suffix in TABLE_SUFFIXES:
            return _table(p, target)
        raise UsageError(f"audit: {str(p)!r} is a {suffix or 'suffix-less'} file; expected a .csv, .parquet or .npz "
                         "file, or a folder")
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
            return _image_folder(root, splits, [d.name for d in class_dirs])
        if any(_is_text(f) for f in first.rglob("*")):
            return _text_folder(root, splits)
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


def _is_text(path: Path) -> bool:
    return path.suffix.lower() in TEXT_SUFFIXES and path.is_file()


def _image_folder(root: Path, splits: list[tuple[str, Path]], classes: list[str]) -> AuditData:
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
        for start in range(0, len(files), size):
            xs, ys, kept, paths, failures = [], [], [], [], []
            for i in range(start, min(start + size, len(files))):
                path, label = files[i]
                try:
                    xs.append(read_image(path))
                except Exception as exc:  # truncated or not an image: listed in the report, never an abort
                    failures.append(Failure(split, i, str(path), f"{type(exc).__name__}: {exc}"))
                    continue
                ys.append(label)
                kept.append(i)
                paths.append(str(path))
            yield Chunk(split, np.asarray(kept, dtype=np.int64), _stack_if_same(xs), np.asarray(ys, dtype=np.int64),
                        paths=paths, failures=failures)

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


def _text_folder(root: Path, splits: list[tuple[str, Path]]) -> AuditData:
    """Text files as byte-level token sequences (vocabulary 256): one file is one sample."""
    out = []
    for name, folder in splits:
        files = sorted(f for f in folder.rglob("*") if _is_text(f))
        out.append(Split(name, len(files), _text_stream(name, files), _text_fetch(files)))
    return AuditData(name=root.name, task="sequence", kind="tokens", splits=tuple(out), num_classes=256,
                     origin="text-folder")


def _text_fetch(files: list[Path]) -> Callable[[Sequence[int]], list[Any]]:
    return lambda idx: [np.frombuffer(files[int(i)].read_bytes(), np.uint8)[:-1].astype(np.int64) for i in idx]


def _text_stream(split: str, files: list[Path]) -> Callable[[int], Iterator[Chunk]]:
    def stream(size: int) -> Iterator[Chunk]:
        for start in range(0, len(files), size):
            xs, ys, kept, paths, failures = [], [], [], [], []
            for i in range(start, min(start + size, len(files))):
                try:
                    raw = files[i].read_bytes()
                    raw.decode("utf-8")  # text that is not UTF-8 is most likely a binary file in the wrong place
                except Exception as exc:
                    failures.append(Failure(split, i, str(files[i]), f"{type(exc).__name__}: {exc}"))
                    continue
                ids = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
                # next-token pairs: the target is the input shifted by one
                xs.append(ids[:-1])
                ys.append(ids[1:])
                kept.append(i)
                paths.append(str(files[i]))
            yield Chunk(split, np.asarray(kept, dtype=np.int64), xs, _stack_targets(ys), paths=paths,
                        failures=failures)

    return stream


NPZ_EXPECTED = "an .npz archive written by numpy.savez with numeric arrays x (inputs) and y (targets)"


def _npz(path: Path) -> AuditData:
    # An .npz member cannot be memory-mapped (numpy reads it whole on access): each array is read once, here,
    # and streamed in chunks from memory afterwards.
    with _npz_open(path) as archive:
        keys = set(archive.files)
        missing = [k for k in ("x", "y") if k not in keys]
        if missing:
            raise UsageError(f"audit: {str(path)!r} has arrays {sorted(keys)}; expected arrays named 'x' (inputs) "
                             f"and 'y' (targets), and it lacks {', '.join(missing)}")
        x, y = _npz_pair(archive, path, "x", "y")
        splits = [_array_split("train", x, y)]
        for name in ("val", "test"):
            present = [k for k in (f"x_{name}", f"y_{name}") if k in keys]
            if len(present) == 1:
                raise DataError(f"audit: {str(path)!r} has {present[0]!r} without its partner; expected both "
                                f"x_{name} and y_{name} for a {name} split, or neither")
            if present:
                xs, ys = _npz_pair(archive, path, f"x_{name}", f"y_{name}")
                if xs.shape[1:] != x.shape[1:]:
                    raise DataError(f"audit: {str(path)!r} has x_{name} samples of shape {xs.shape[1:]} but x samples "
                                    f"of shape {x.shape[1:]}; expected one sample shape in every split")
                splits.append(_array_split(name, xs, ys))
    task, kind = _array_task(x, y)
    ignore = inferred_ignore_index(task, [y]) if task != "regression" else None
    num_classes = int(np.max(y)) + 1 if task != "regression" else None
    return AuditData(name=path.stem, task=task, kind=kind, splits=tuple(splits), num_classes=num_classes,
                     origin="npz", ignore_index=ignore)


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


def inferred_ignore_index(task: str, targets: Sequence[np.ndarray]) -> int | None:
    """The one negative value integer class or token targets hold, if any: no class id is negative, so a single
    negative value can only be padding the loss skips (-1 in minGPT, -100 in Hugging Face)."""
    if task == "regression":
        return None
    negative: set[int] = set()
    for y in targets:
        y = np.asarray(y)
        if y.dtype == object:
            y = np.concatenate([np.asarray(v).reshape(-1) for v in y]) if len(y) else np.zeros(0, np.int64)
        if not np.issubdtype(y.dtype, np.integer):
            return None
        negative.update(np.unique(y[y < 0]).tolist())
    return int(negative.pop()) if len(negative) == 1 else None


def _array_task(x: np.ndarray, y: np.ndarray) -> tuple[str, Kind]:
    integer_y = np.issubdtype(y.dtype, np.integer)
    if integer_y and np.issubdtype(x.dtype, np.integer) and x.ndim == 2 and y.shape == x.shape:
        return "sequence", "tokens"
    kind: Kind = "image" if x.ndim >= 3 else "vector"
    return ("classification" if integer_y and y.ndim == 1 else "regression"), kind


def _array_split(name: str, x: np.ndarray, y: np.ndarray) -> Split:
    return Split(name, len(x), _array_stream(name, x, y), lambda idx: [np.asarray(x[int(i)]) for i in idx])


def _array_stream(split: str, x: np.ndarray, y: np.ndarray) -> Callable[[int], Iterator[Chunk]]:
    def stream(size: int) -> Iterator[Chunk]:
        for start in range(0, len(x), size):
            stop = min(start + size, len(x))
            yield Chunk(split, np.arange(start, stop), np.asarray(x[start:stop]), np.asarray(y[start:stop]))

    return stream


SPLIT_NAMES = ("train", "val", "test")


def _table(path: Path, target: str | None) -> AuditData:
    if path.stat().st_size == 0:
        raise DataError(f"audit: {str(path)!r} is empty (0 bytes); expected {_table_expected(path)}")
    columns = _table_columns(path)
    if target is None:
        raise UsageError(f"audit: {str(path)!r} is a table; name its target column with --target COLUMN "
                         f"(columns: {', '.join(columns[:20])}{', ...' if len(columns) > 20 else ''})")
    if target not in columns:
        from nnrecipe.errors import did_you_mean

        raise UsageError(f"audit: the table {str(path)!r} has no column {target!r}{did_you_mean(target, columns)}; "
                         f"expected --target to name one of: {', '.join(columns[:20])}")
    features = [c for c in columns if c != target]
    split_column = "split" if "split" in features else None
    if split_column:
        features.remove(split_column)
    scan = _table_scan(path, target, split_column)
    _check_table(path, columns, target, features, split_column, scan)
    task, classes = scan.task()
    splits = tuple(Split(name, scan.rows[name], _table_stream(path, name, target, features, classes, split_column))
                   for name in SPLIT_NAMES if scan.rows.get(name))
    return AuditData(name=path.stem, task=task, kind="vector", splits=splits,
                     num_classes=len(classes) if classes else None, class_names=classes, feature_names=features,
                     origin="table")


def _table_expected(path: Path) -> str:
    if path.suffix.lower() == ".csv":
        return "a CSV file with a header row and at least one data row"
    return "a Parquet file (as pandas.DataFrame.to_parquet writes) with at least one row"


@contextlib.contextmanager
def _reading_table(path: Path) -> Iterator[None]:
    """Every read of a table goes through here: a file pandas or pyarrow cannot parse becomes one DataError that
    names it and says what was expected, wherever the read happens (the first look or a check's stream)."""
    try:
        yield
    except NnrecipeError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"audit: {str(path)!r} cannot be read as a CSV file: it is not UTF-8 text (it holds "
                        f"the byte 0x{exc.object[exc.start]:02x}), so it is a binary file "
                        f"or text in another encoding; expected {_table_expected(path)}, saved as UTF-8") from None
    except Exception as exc:  # pandas' ParserError and EmptyDataError, pyarrow's ArrowInvalid, OSError
        kind = "a CSV file" if path.suffix.lower() == ".csv" else "a Parquet file"
        hint = "" if path.suffix.lower() == ".csv" else ": a truncated copy, or another format saved as .parquet?"
        raise DataError(f"audit: {str(path)!r} cannot be read as {kind} ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())}); expected {_table_expected(path)}{hint}") from None


def _table_columns(path: Path) -> list[str]:
    with _reading_table(path):
        if path.suffix.lower() == ".csv":
            import pandas as pd

            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)


def _table_batches(path: Path, size: int, columns: list[str] | None = None) -> Iterator[Any]:
    """DataFrames of `size` rows, read lazily (pandas' chunked CSV reader; pyarrow's row-group batches)."""
    with _reading_table(path):
        if path.suffix.lower() == ".csv":
            import pandas as pd

            yield from pd.read_csv(path, chunksize=size, usecols=columns)
            return
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=size, columns=columns):
            yield batch.to_pandas()


#: more distinct integer targets than this make a regression; more distinct text targets are refused
MAX_INTEGER_CLASSES = 50
MAX_CLASSES = 1000


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


def _table_scan(path: Path, target: str, split_column: str | None) -> _TableScan:
    """A CSV is parsed whole here, every column: a ragged row or a byte that is not UTF-8 is found before the
    audit starts, as one error, not as every check failing on the profile's pass. A Parquet file's footer (its
    schema and row groups) is read when it is opened, and the scan reads the target and split columns only."""
    scan = _TableScan()
    seen = 0
    columns = None if path.suffix.lower() == ".csv" else [target] + ([split_column] if split_column else [])
    for frame in _table_batches(path, 65536, columns):
        col = frame[target]
        absent = col.isna().to_numpy()
        if absent.any() and scan.first_missing is None:
            scan.first_missing = seen + int(np.argmax(absent)) + 1
        scan.missing += int(absent.sum())
        seen += len(frame)
        if col.dtype.kind == "f":
            scan.numeric_float = True
        elif not scan.numeric_float and len(scan.values) <= MAX_CLASSES:
            scan.values.update(col.dropna().unique().tolist())
        names = frame[split_column].astype(str) if split_column else None
        for name, count in (names.value_counts().items() if names is not None else [("train", len(frame))]):
            bucket = scan.rows if name in SPLIT_NAMES else scan.other_splits
            bucket[str(name)] = bucket.get(str(name), 0) + int(count)
    return scan


def _check_table(path: Path, columns: list[str], target: str, features: list[str], split_column: str | None,
                 scan: _TableScan) -> None:
    """What a table must hold to be audited: rows, a feature, a target in every row, known split names."""
    where = f"the table {str(path)!r}"
    if not sum(scan.rows.values()) and not scan.other_splits:
        header = "a header row" if path.suffix.lower() == ".csv" else "columns"
        raise DataError(f"audit: {where} has {header} ({', '.join(columns[:20])}) but no rows; "
                        f"expected {_table_expected(path)}")
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
        for frame in _table_batches(path, size):
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


def from_arrays(name: str, splits: dict[str, tuple[np.ndarray, np.ndarray]], *, task: str | None = None,
                kind: Kind | None = None, num_classes: int | None = None,
                ignore_index: int | None = None) -> AuditData:
    """In-memory arrays per split, {"train": (x, y), "val": (x, y)}: for tests, benchmarks and notebooks.

    `ignore_index` is the target value the loss skips; when None, a single negative target value is taken as one.
    """
    x0, y0 = splits["train"]
    guessed_task, guessed_kind = _array_task(x0, y0)
    task = task or guessed_task
    if ignore_index is None:
        ignore_index = inferred_ignore_index(task, [y for _, y in splits.values()])
    if num_classes is None and task != "regression":
        num_classes = int(max(np.max(y) for _, y in splits.values())) + 1
    return AuditData(name=name, task=task, kind=kind or guessed_kind,
                     splits=tuple(_array_split(n, x, y) for n, (x, y) in splits.items()),
                     num_classes=num_classes, origin="arrays", ignore_index=ignore_index)
