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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nnrecipe.errors import DataError, UsageError

Kind = Literal["image", "signal", "vector", "tokens"]
KINDS: tuple[Kind, ...] = ("image", "signal", "vector", "tokens")
CHUNK = 4096
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


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
    if target is not None:
        raise UsageError("audit: --target names the target column of a CSV or Parquet table, but "
                         f"{str(p)!r} is a folder")
    return _folder(p)


def _split_dirs(root: Path) -> list[tuple[str, Path]]:
    """A folder holding train/ val/ test/ sub-folders is split; any other folder is one 'train' split."""
    named = [(name, root / name) for name in ("train", "val", "test") if (root / name).is_dir()]
    return named if named and (root / "train").is_dir() else [("train", root)]


def _folder(root: Path) -> AuditData:
    splits = _split_dirs(root)
    first = splits[0][1]
    class_dirs = sorted(d for d in first.iterdir() if d.is_dir())
    files = [f for d in class_dirs for f in d.iterdir() if f.is_file()]
    if class_dirs and any(f.suffix.lower() in IMAGE_SUFFIXES for f in files):
        return _image_folder(root, splits, [d.name for d in class_dirs])
    texts = [f for f in first.rglob("*") if f.is_file() and f.suffix.lower() in (".txt", ".text", ".md", "")]
    if texts:
        return _text_folder(root, splits)
    raise UsageError(
        f"audit: the folder {str(root)!r} holds neither images in one sub-folder per class "
        f"({', '.join(IMAGE_SUFFIXES)}) nor text files (.txt); expected one of those"
    )


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
        files = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in (".txt", ".text", ".md", ""))
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


def _npz(path: Path) -> AuditData:
    with np.load(path, allow_pickle=False) as data:
        keys = set(data.files)
    missing = [k for k in ("x", "y") if k not in keys]
    if missing:
        raise UsageError(f"audit: {str(path)!r} has arrays {sorted(keys)}; expected arrays named 'x' (inputs) and "
                         f"'y' (targets), and it lacks {', '.join(missing)}")
    # mmap keeps a large uncompressed .npz on disk; compressed members are read once, still chunked afterwards
    data = np.load(path, allow_pickle=False, mmap_mode="r")
    x, y = data["x"], data["y"]
    if len(x) != len(y):
        raise DataError(f"audit: {str(path)!r} has {len(x)} inputs but {len(y)} targets; expected one target per input")
    splits = [_array_split("train", x, y)]
    for name in ("val", "test"):
        if f"x_{name}" in keys and f"y_{name}" in keys:
            splits.append(_array_split(name, data[f"x_{name}"], data[f"y_{name}"]))
    task, kind = _array_task(x, y)
    ignore = inferred_ignore_index(task, [y]) if task != "regression" else None
    num_classes = int(np.max(y)) + 1 if task != "regression" else None
    return AuditData(name=path.stem, task=task, kind=kind, splits=tuple(splits), num_classes=num_classes,
                     origin="npz", ignore_index=ignore)


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


def _table(path: Path, target: str | None) -> AuditData:
    columns = _table_columns(path)
    if target is None:
        raise UsageError(f"audit: {str(path)!r} is a table; name its target column with --target COLUMN "
                         f"(columns: {', '.join(columns[:20])}{', ...' if len(columns) > 20 else ''})")
    if target not in columns:
        from nnrecipe.errors import did_you_mean

        raise UsageError(f"audit: the table {str(path)!r} has no column {target!r}{did_you_mean(target, columns)}; "
                         f"expected --target to name one of: {', '.join(columns[:20])}")
    features = [c for c in columns if c != target]
    task, classes = _table_task(path, target)
    split_column = "split" if "split" in features else None
    if split_column:
        features.remove(split_column)
    names = ("train", "val", "test") if split_column else ("train",)
    splits = tuple(Split(name, _table_rows(path, split_column, name),
                         _table_stream(path, name, target, features, classes, split_column)) for name in names)
    splits = tuple(s for s in splits if s.size > 0)
    return AuditData(name=path.stem, task=task, kind="vector", splits=splits,
                     num_classes=len(classes) if classes else None, class_names=classes, feature_names=features,
                     origin="table")


def _table_columns(path: Path) -> list[str]:
    if path.suffix.lower() == ".csv":
        import pandas as pd

        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(path).schema_arrow.names)


def _table_batches(path: Path, size: int, columns: list[str] | None = None) -> Iterator[Any]:
    """DataFrames of `size` rows, read lazily (pandas' chunked CSV reader; pyarrow's row-group batches)."""
    if path.suffix.lower() == ".csv":
        import pandas as pd

        yield from pd.read_csv(path, chunksize=size, usecols=columns)
        return
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=size, columns=columns):
        yield batch.to_pandas()


def _table_task(path: Path, target: str) -> tuple[str, list[str] | None]:
    """Classification when the target is text, boolean or few integers; else regression. One pass over the column."""
    values: set[Any] = set()
    numeric_float = False
    for frame in _table_batches(path, 65536, [target]):
        col = frame[target]
        if col.dtype.kind == "f":
            numeric_float = True
            break
        values.update(col.dropna().unique().tolist())
        if len(values) > 1000:
            break
    if numeric_float or len(values) > 1000 or (all(isinstance(v, (int, np.integer)) for v in values) and len(values) > 50):
        return "regression", None
    return "classification", sorted(str(v) for v in values)


def _table_rows(path: Path, split_column: str | None, name: str) -> int:
    if split_column is None:
        if path.suffix.lower() != ".csv":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        return sum(len(f) for f in _table_batches(path, 65536, [_table_columns(path)[0]]))
    return sum(int((f[split_column].astype(str) == name).sum()) for f in _table_batches(path, 65536, [split_column]))


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
