"""The data profile: one streaming pass over every split that feeds every data check.

Per chunk it computes each sample's exact hash, near hash (pHash for images, SimHash for vectors and
signals, with a 16-number distance sketch), a few scalar properties (norm, brightness, length, ...) and its
target, and folds the inputs into per-feature (or per-channel) running moments, the few most extreme values
of each feature and a bounded reservoir sample. Token windows also get the hashes of their two ends, and the
train windows' spans go into a bounded set (`nnrecipe.audit.spans`). What stays in memory is O(samples) small
scalars — hashes, a target and a handful of properties, about 60 bytes a sample (125 for vectors, whose
distance sketch takes 64) — plus O(features) statistics and fixed-size samples: never the inputs themselves.

Targets equal to the data's ignore index (padding after the end of a sequence, unlabelled samples) are left
out of every count: class counts, the alignment of next-token targets, target summaries (`Profile.labelled`
says which samples carry a label at all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnrecipe.audit import hashing, spans
from nnrecipe.audit.neighbours import NearScale, near_scale
from nnrecipe.audit.sources import CHUNK, AuditData, Chunk, Failure

#: reservoir sample kept per split: the pictures and the quick models of label-issues and target-leakage
RESERVOIR = 4096
#: most failures, flagged samples, extremes kept by name (counts are always exact)
KEEP = 50
#: thumbnail side for the reservoir's image features and pictures
FEATURE_SIDE = 16
PICTURE_SIDE = 64
#: per-feature statistics are kept for at most this many features (per channel beyond it, for images)
MAX_FEATURES = 4096
#: the most extreme values kept exactly per feature and side, for outliers
TOP = 16


@dataclass
class Moments:
    """Running count, mean, M2, min and max per feature, merged chunk by chunk (Chan et al.)."""

    count: int = 0
    n: np.ndarray | None = None  # finite values seen, per feature
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def add(self, values: np.ndarray) -> None:
        """values: (n, features), NaN/Inf removed per feature."""
        finite = np.isfinite(values)
        n_b = finite.sum(axis=0)
        safe = np.where(finite, values, 0.0)
        mean_b = safe.sum(axis=0) / np.maximum(n_b, 1)
        m2_b = (np.where(finite, values - mean_b, 0.0) ** 2).sum(axis=0)
        low_b = np.where(finite, values, np.inf).min(axis=0)
        high_b = np.where(finite, values, -np.inf).max(axis=0)
        if self.mean is None:
            self.count, self.n = int(values.shape[0]), n_b.astype(np.float64)
            self.mean, self.m2, self.low, self.high = mean_b, m2_b, low_b, high_b
            return
        assert self.n is not None and self.m2 is not None
        n_a = self.n
        total = np.maximum(n_a + n_b, 1)
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / total
        self.m2 = self.m2 + m2_b + delta**2 * n_a * n_b / total
        self.n = n_a + n_b
        self.count += int(values.shape[0])
        assert self.low is not None and self.high is not None
        self.low, self.high = np.minimum(self.low, low_b), np.maximum(self.high, high_b)

    @property
    def std(self) -> np.ndarray:
        assert self.m2 is not None and self.n is not None
        return np.sqrt(self.m2 / np.maximum(self.n - 1, 1))


@dataclass
class Extremes:
    """The TOP largest and smallest finite values of each feature, exactly, merged chunk by chunk."""

    high: np.ndarray | None = None  # (TOP, features) descending, -inf where fewer values were seen
    low: np.ndarray | None = None  # (TOP, features) ascending, +inf where fewer

    def add(self, values: np.ndarray) -> None:
        finite = np.isfinite(values)
        high, low = np.where(finite, values, -np.inf), np.where(finite, values, np.inf)
        if self.high is not None and self.low is not None:
            high, low = np.vstack([self.high, high]), np.vstack([self.low, low])
        self.high, self.low = _top(high), -_top(-low)


def _top(values: np.ndarray) -> np.ndarray:
    """The TOP largest values of each column, descending, padded with -inf."""
    if len(values) > TOP:
        values = np.partition(values, len(values) - TOP, axis=0)[len(values) - TOP :]
    values = -np.sort(-values, axis=0)
    return np.vstack([values, np.full((TOP - len(values), values.shape[1]), -np.inf)]) if len(values) < TOP else values


@dataclass
class Capped:
    """An exact count plus the first `KEEP` items, for evidence lists."""

    count: int = 0
    items: list[Any] = field(default_factory=list)

    def add(self, items: list[Any]) -> None:
        self.count += len(items)
        self.items.extend(items[: max(0, KEEP - len(self.items))])


@dataclass
class Reservoir:
    """A uniform random sample of fixed size (Algorithm R, vectorized per chunk)."""

    capacity: int
    rng: np.random.Generator
    seen: int = 0
    index: list[int] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    targets: list[Any] = field(default_factory=list)
    pictures: list[np.ndarray] = field(default_factory=list)
    paths: list[str | None] = field(default_factory=list)

    def add(self, index: np.ndarray, features: np.ndarray, targets: np.ndarray, pictures: Any,
            paths: list[str] | None) -> None:
        n = len(index)
        slot = np.arange(self.seen, self.seen + n)
        free = slot < self.capacity
        draws = self.rng.integers(0, slot + 1)  # item t replaces a random kept item with probability K/(t+1)
        target_slot = np.where(free, slot, draws)
        for k in np.nonzero(target_slot < self.capacity)[0]:
            # copies, not views: a view would keep its whole chunk alive and memory would grow with the data
            item = (int(index[k]), np.array(features[k]), np.array(targets[k]), np.array(pictures[k]),
                    paths[k] if paths else None)
            s = int(target_slot[k])
            columns: tuple[list[Any], ...] = (self.index, self.features, self.targets, self.pictures, self.paths)
            for column, value in zip(columns, item, strict=True):
                if s == len(column):
                    column.append(value)
                else:
                    column[s] = value
        self.seen += n


@dataclass
class SplitProfile:
    name: str
    size: int
    read: int = 0
    failures: Capped = field(default_factory=Capped)
    nonfinite: Capped = field(default_factory=Capped)
    constant: Capped = field(default_factory=Capped)
    empty: Capped = field(default_factory=Capped)
    moments: Moments = field(default_factory=Moments)
    extremes: Extremes = field(default_factory=Extremes)
    channel_moments: Moments = field(default_factory=Moments)
    class_counts: np.ndarray | None = None
    token_counts: np.ndarray | None = None
    #: next-token alignment, counted over positions whose target and next target both carry a label
    alignment: dict[str, int] = field(default_factory=lambda: {"positions": 0, "shifted": 0, "copied": 0,
                                                                "reversed": 0, "ignored": 0})
    reservoir: Reservoir | None = None


@dataclass
class Profile:
    """Everything the data checks read. Per-sample columns cover every split, concatenated (`split_of`)."""

    data: AuditData
    splits: dict[str, SplitProfile]
    split_of: np.ndarray  # (N,) position of the split in `data.splits`
    index: np.ndarray  # (N,) index within its split
    exact: np.ndarray  # (N,) uint64
    near: np.ndarray | None  # (N,) uint64 or None (tokens)
    target: np.ndarray  # (N,) class id (int64) or a scalar summary of the labelled target (float64)
    target_hash: np.ndarray  # (N,) uint64 of the full target
    properties: dict[str, np.ndarray]  # name -> (N,) float32
    paths: np.ndarray | None  # (N,) object, for path sources
    labelled: np.ndarray | None = None  # (N,) bool: the target is not (entirely) the ignore index
    sketch: np.ndarray | None = None  # (N, SKETCH) float32 random projection of standardized vectors
    features: int = 0  # input features per sample (vectors and signals), for the sketch's distance scale
    chunks: int = 0
    seed: int = 0
    #: token windows: span length (0: not windows), each window's first/last span hash and whether it has them
    span_length: int = 0
    span_first: np.ndarray | None = None
    span_last: np.ndarray | None = None
    span_ok: np.ndarray | None = None
    train_spans: np.ndarray | None = None  # sorted distinct span hashes of the train windows
    span_sampling: int = 1  # 1 in span_sampling span hashes kept (1: all)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.labelled is None:
            self.labelled = np.ones(len(self.target), bool)

    @property
    def split_names(self) -> list[str]:
        return [s.name for s in self.data.splits]

    def describe(self, i: int) -> dict[str, Any]:
        """One sample, named for evidence: its split, index and path when it has one."""
        out: dict[str, Any] = {"split": self.split_names[int(self.split_of[i])], "index": int(self.index[i])}
        if self.paths is not None and self.paths[i] is not None:
            out["path"] = str(self.paths[i])
        return out

    def exact_groups(self) -> list[np.ndarray]:
        """Rows sharing an exact hash (computed once, shared by duplicates, leakage and conflicts)."""
        if "exact_groups" not in self._memo:
            self._memo["exact_groups"] = hashing.groups_of(self.exact)
        return self._memo["exact_groups"]  # type: ignore[no-any-return]

    def near_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Near pairs that are not exact copies (computed once)."""
        if "near_pairs" not in self._memo:
            self._memo["near_pairs"] = self._near_pairs()
        return self._memo["near_pairs"]  # type: ignore[no-any-return]

    def near_scale(self) -> NearScale | None:
        """The distance under which two vectors are near copies for this data (None for images and tokens)."""
        if self.sketch is None:
            return None
        if "near_scale" not in self._memo:
            self._memo["near_scale"] = near_scale(self.sketch, self.exact, cap=NEAR_RMS * np.sqrt(max(self.features, 1)),
                                                  max_dimension=min(max(self.features, 1), SKETCH), seed=self.seed)
        return self._memo["near_scale"]  # type: ignore[no-any-return]

    def _near_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        if self.near is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        tiebreak = self.sketch[:, 0] if self.sketch is not None else None
        a, b = hashing.near_pairs(self.near, tiebreak)
        keep = self.exact[a] != self.exact[b]
        scale = self.near_scale()
        if self.sketch is not None and scale is not None:
            # SimHash only proposes (it sees angles); the sketch estimates the distance itself (Johnson-Lindenstrauss),
            # judged against the data's own spacing (`nnrecipe.audit.neighbours`)
            gap = np.linalg.norm(self.sketch[a] - self.sketch[b], axis=1)
            keep &= gap <= scale.limit
        return a[keep], b[keep]

    def window_overlap(self, split: str) -> dict[str, Any] | None:
        """For token windows: how many of a held-out split's windows have both ends among the train spans."""
        if not self.span_length or self.train_spans is None or self.span_first is None or self.span_last is None:
            return None
        assert self.span_ok is not None
        rows = np.nonzero((self.split_of == self.split_names.index(split)) & self.span_ok)[0]
        tested, both = spans.shared_ends(self.train_spans, self.span_sampling, self.span_first[rows], self.span_last[rows])
        return {"span": self.span_length, "windows": int(len(rows)), "tested": int(tested.sum()),
                "overlapping": int(both.sum()), "rows": rows[both], "sampling": self.span_sampling}


#: vectors are near duplicates at most when their standardized values differ by this RMS, in feature stds (the
#: data's own spacing may make the limit smaller: see `nnrecipe.audit.neighbours`)
NEAR_RMS = 0.05
#: dimensions of the random projection that estimates distances between candidate near pairs
SKETCH = 16


def build_profile(data: AuditData, *, seed: int = 0, chunk_size: int = CHUNK) -> Profile:
    """Stream every split once, chunk by chunk, and fold each chunk into the profile."""
    builder = _Builder(data, seed=seed)
    for code, split in enumerate(data.splits):
        sp = SplitProfile(split.name, split.size,
                          reservoir=Reservoir(RESERVOIR, np.random.default_rng([seed, code, 7])))
        builder.splits[split.name] = sp
        for chunk in split.chunks(chunk_size):
            builder.add(code, sp, chunk)
    return builder.finish()


class _Builder:
    def __init__(self, data: AuditData, *, seed: int) -> None:
        self.data = data
        self.seed = seed
        self.splits: dict[str, SplitProfile] = {}
        self.columns: dict[str, list[np.ndarray]] = {}
        self.paths: list[np.ndarray] = []
        self.has_paths = False
        self.reference: tuple[np.ndarray, np.ndarray] | None = None  # SimHash standardization, from chunk 1
        self.planes: np.ndarray | None = None
        self.features = 0
        self.chunks = 0
        self.span_store: spans.SpanStore | None = None  # decided on the first token chunk

    def _append(self, name: str, values: np.ndarray) -> None:
        self.columns.setdefault(name, []).append(values)

    def add(self, code: int, sp: SplitProfile, chunk: Chunk) -> None:
        self.chunks += 1
        sp.failures.add([_failure(f) for f in chunk.failures])
        n = len(chunk)
        if n == 0:
            return
        sp.read += n
        feats = _Features.of(self.data, chunk)
        ignore = self.data.ignore_index
        self._append("split_of", np.full(n, code, dtype=np.uint8))
        self._append("index", chunk.index.astype(np.int64))
        self._append("exact", hashing.exact_hashes(chunk.x))
        summary, labelled = _target_summary(self.data.task, chunk.y, ignore)
        self._append("target", summary)
        self._append("labelled", labelled)
        self._append("target_hash", hashing.exact_hashes(_as_rows(chunk.y)))
        self.paths.append(np.asarray(chunk.paths if chunk.paths else [None] * n, dtype=object))
        self.has_paths |= chunk.paths is not None
        near = self._near_hash(feats)
        if near is not None:
            self._append("near", near)
        if self.data.kind == "tokens":
            feats.properties["length"] = _token_lengths(chunk, ignore).astype(np.float64)  # padding is no length
            self._window_ends(code, chunk, feats.properties["length"].astype(np.int64))
        for key, values in feats.properties.items():
            self._append("prop:" + key, values.astype(np.float32))
        self._fold_stats(sp, chunk, feats)

    def _near_hash(self, feats: _Features) -> np.ndarray | None:
        if feats.gray is not None:
            return hashing.phash(feats.gray) if isinstance(feats.gray, np.ndarray) else np.concatenate(
                [hashing.phash(g[None]) for g in feats.gray])
        if feats.flat is None:
            return None
        flat = np.nan_to_num(feats.flat, nan=0.0, posinf=0.0, neginf=0.0)
        if self.reference is None:
            # Standardize with the first chunk's statistics: close enough to the global ones for hashing, and it
            # keeps the pass single. Features on very different scales then weigh alike in the angle.
            mean, std = flat.mean(axis=0), flat.std(axis=0)
            self.reference = (mean, np.where(std > 1e-12, std, 1.0))
            self.planes = np.random.default_rng([self.seed, 64]).standard_normal((flat.shape[1], SKETCH + 64))
        assert self.planes is not None
        z = (flat - self.reference[0]) / self.reference[1]
        self.features = flat.shape[1]
        sketch = z @ self.planes[:, :SKETCH] / np.sqrt(SKETCH)  # E|sketch_a - sketch_b|^2 = |z_a - z_b|^2
        # float32, not float16: in a dense table a sample's natural neighbour can be 1e-4 standard units away
        self._append("sketch", sketch.astype(np.float32))
        return hashing.simhash(z, self.planes[:, SKETCH:])

    def _window_ends(self, code: int, chunk: Chunk, lengths: np.ndarray) -> None:
        """Token windows: the hashes of each window's two ends; the train windows' spans into the span set."""
        if self.span_store is None:
            self.span_store = spans.SpanStore(spans.window_span(lengths))
        length = self.span_store.length
        if not length:
            return
        first, last, ok, every = spans.window_ends(chunk.x, lengths, length)
        self._append("span_first", first)
        self._append("span_last", last)
        self._append("span_ok", ok)
        if code == 0:
            for hashes in every:
                self.span_store.add(hashes)

    def _fold_stats(self, sp: SplitProfile, chunk: Chunk, feats: _Features) -> None:
        for capped, mask in ((sp.nonfinite, feats.nonfinite), (sp.constant, feats.constant & ~feats.empty),
                             (sp.empty, feats.empty)):
            capped.add([self._where(chunk, int(i)) for i in np.nonzero(mask)[0]])
        if feats.flat is not None and feats.flat.shape[1] <= MAX_FEATURES:
            sp.moments.add(feats.flat)
            if self.data.kind != "image":
                sp.extremes.add(feats.flat)
        if feats.channels is not None:
            sp.channel_moments.add(feats.channels)
        self._fold_targets(sp, chunk)
        assert sp.reservoir is not None
        sp.reservoir.add(chunk.index, feats.model_features, chunk.y, feats.pictures, chunk.paths)

    def _where(self, chunk: Chunk, i: int) -> dict[str, Any]:
        out: dict[str, Any] = {"index": int(chunk.index[i])}
        if chunk.paths:
            out["path"] = chunk.paths[i]
        return out

    def _fold_targets(self, sp: SplitProfile, chunk: Chunk) -> None:
        task, classes, ignore = self.data.task, self.data.num_classes or 0, self.data.ignore_index
        if task == "classification":
            y = chunk.y.astype(np.int64).reshape(-1)
            sp.class_counts = _add_counts(sp.class_counts, y[y != ignore] if ignore is not None else y, classes)
        elif task == "sequence":
            xs = chunk.x if isinstance(chunk.x, list) else list(chunk.x)
            ys = list(chunk.y)
            tokens = np.concatenate([np.asarray(x).reshape(-1) for x in xs]).astype(np.int64)
            sp.token_counts = _add_counts(sp.token_counts, tokens, classes)
            if isinstance(chunk.x, np.ndarray) and chunk.x.ndim == 2 and chunk.y.shape == chunk.x.shape:
                _align(sp.alignment, chunk.x, chunk.y, ignore)  # windows of one length: all rows at once
                return
            for x, y in zip(xs, ys, strict=False):
                _align(sp.alignment, np.asarray(x).reshape(1, -1), np.asarray(y).reshape(1, -1), ignore)

    def finish(self) -> Profile:
        cols = {k: np.concatenate(v) for k, v in self.columns.items()}
        empty = np.zeros(0)
        props = {k[5:]: v for k, v in cols.items() if k.startswith("prop:")}
        store = self.span_store
        return Profile(
            data=self.data, splits=self.splits,
            split_of=cols.get("split_of", empty.astype(np.uint8)), index=cols.get("index", empty.astype(np.int64)),
            exact=cols.get("exact", empty.astype(np.uint64)), near=cols.get("near"),
            target=cols.get("target", empty), target_hash=cols.get("target_hash", empty.astype(np.uint64)),
            properties=props, paths=np.concatenate(self.paths) if self.has_paths and self.paths else None,
            labelled=cols.get("labelled"), sketch=cols.get("sketch"), features=self.features, chunks=self.chunks,
            seed=self.seed, span_length=store.length if store is not None and "span_first" in cols else 0,
            span_first=cols.get("span_first"), span_last=cols.get("span_last"), span_ok=cols.get("span_ok"),
            train_spans=store.finish() if store is not None and store.length else None,
            span_sampling=store.sampling if store is not None else 1,
        )


def _failure(f: Failure) -> dict[str, Any]:
    out: dict[str, Any] = {"index": f.index, "error": f.message[:200]}
    if f.path:
        out["path"] = f.path
    return out


def _as_rows(y: np.ndarray) -> np.ndarray | list[np.ndarray]:
    if y.dtype == object:
        return [np.asarray(v) for v in y]
    return y.reshape(len(y), -1) if y.ndim >= 1 else y


def _target_summary(task: str, y: np.ndarray, ignore: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(n,) the class id, or the mean of the labelled target values; (n,) whether the sample carries a label."""
    if task == "classification":
        ids = y.astype(np.int64).reshape(-1)
        return ids, (ids != ignore) if ignore is not None else np.ones(len(ids), bool)
    if y.dtype == object:
        rows = [np.asarray(v, dtype=np.float64).reshape(-1) for v in y]
        kept = [r[r != ignore] if ignore is not None else r for r in rows]
        return np.array([float(r.mean()) if len(r) else 0.0 for r in kept]), np.array([len(r) > 0 for r in kept], bool)
    values = y.reshape(len(y), -1).astype(np.float64)
    mask = values != ignore if ignore is not None else np.ones(values.shape, bool)
    count = mask.sum(axis=1)
    return np.where(mask, values, 0.0).sum(axis=1) / np.maximum(count, 1), count > 0


def _token_lengths(chunk: Chunk, ignore: int | None) -> np.ndarray:
    """Each sample's length up to its last labelled target position (padding after the end cut off)."""
    if isinstance(chunk.x, np.ndarray) and chunk.x.ndim == 2:
        full = np.full(len(chunk.x), chunk.x.shape[1])
        if ignore is None or chunk.y.shape != chunk.x.shape:
            return full
        labelled = chunk.y != ignore
        last = chunk.x.shape[1] - np.argmax(labelled[:, ::-1], axis=1)
        return np.where(labelled.any(axis=1), last, 0)
    lengths = []
    for x, y in zip(chunk.x, list(chunk.y), strict=False):
        x, y = np.asarray(x).reshape(-1), np.asarray(y).reshape(-1)
        labelled = np.nonzero(y != ignore)[0] if ignore is not None and y.shape == x.shape else None
        lengths.append(len(x) if labelled is None else (int(labelled[-1]) + 1 if len(labelled) else 0))
    return np.asarray(lengths, dtype=np.int64)


def _add_counts(counts: np.ndarray | None, values: np.ndarray, minlength: int) -> np.ndarray:
    values = values[values >= 0]  # a negative id is padding (or a bug other checks report): never a bin
    new = np.bincount(values, minlength=minlength)
    if counts is None:
        return new
    if len(new) > len(counts):
        counts = np.pad(counts, (0, len(new) - len(counts)))
    counts[: len(new)] += new
    return counts


def _align(stats: dict[str, int], x: np.ndarray, y: np.ndarray, ignore: int | None) -> None:
    """(n, T) inputs and targets: count where the target is the input shifted left (next token), equal to it,
    or shifted right.

    Only positions t whose target and next target both carry a label count: padding after the end of a
    sequence is no position, and the last real target (whose next input is padding) has nothing to compare.
    """
    if x.shape[1] < 2 or x.shape != y.shape:
        return
    labelled = y != ignore if ignore is not None else np.ones(y.shape, bool)  # (n, T)
    both = labelled[:, :-1] & labelled[:, 1:]
    stats["positions"] += int(both.sum())
    stats["ignored"] += int((~labelled).sum())
    stats["shifted"] += int(((y[:, :-1] == x[:, 1:]) & both).sum())
    stats["copied"] += int(((y[:, :-1] == x[:, :-1]) & both).sum())
    stats["reversed"] += int(((y[:, 1:] == x[:, :-1]) & both).sum())


# --- per-kind features of a chunk ---------------------------------------------------------------------------


@dataclass
class _Features:
    properties: dict[str, np.ndarray]
    flat: np.ndarray | None  # (n, d) float64 per-feature view, or None
    channels: np.ndarray | None  # (pixels, C) for per-channel image moments
    gray: np.ndarray | list[np.ndarray] | None  # images only, for pHash
    model_features: np.ndarray  # (n, f) float32 for the reservoir's quick models
    pictures: np.ndarray | list[np.ndarray]  # one displayable input per sample
    nonfinite: np.ndarray
    constant: np.ndarray
    empty: np.ndarray

    @staticmethod
    def of(data: AuditData, chunk: Chunk) -> _Features:
        if data.kind == "image":
            return _image_features(chunk)
        if data.kind == "tokens":
            return _token_features(chunk, data.num_classes or 1)
        return _vector_features(chunk)


def _vector_features(chunk: Chunk) -> _Features:
    x = np.asarray(chunk.x, dtype=np.float64).reshape(len(chunk), -1)  # (n, d)
    finite = np.isfinite(x)
    safe = np.where(finite, x, 0.0)
    props = {
        "norm": np.linalg.norm(safe, axis=1),
        "mean": safe.mean(axis=1),
        "std": safe.std(axis=1),
        "min": np.where(finite, x, np.inf).min(axis=1),
        "max": np.where(finite, x, -np.inf).max(axis=1),
    }
    return _Features(
        properties=props, flat=x, channels=None, gray=None, model_features=safe.astype(np.float32),
        pictures=x.astype(np.float32), nonfinite=np.asarray(~finite.all(axis=1)),
        constant=(props["std"] == 0) & (x.shape[1] > 1), empty=np.zeros(len(x), bool) if x.shape[1] else np.ones(len(x), bool),
    )


def channels_last(x: np.ndarray) -> np.ndarray:
    """(n, C, H, W) with a small C -> (n, H, W, C); (n, H, W) and (n, H, W, C) unchanged."""
    if x.ndim == 4 and x.shape[1] in (1, 3, 4) and x.shape[-1] not in (1, 3, 4):
        return np.moveaxis(x, 1, -1)
    return x


def _image_features(chunk: Chunk) -> _Features:
    if not isinstance(chunk.x, np.ndarray):
        return _image_list_features(chunk.x)
    images = channels_last(chunk.x).astype(np.float32)  # (n, H, W) or (n, H, W, C)
    color = images.ndim == 4
    gray = images.mean(axis=-1) if color else images  # (n, H, W)
    n, h, w = gray.shape
    finite = np.isfinite(images.reshape(n, -1)).all(axis=1)
    clean = np.nan_to_num(gray, nan=0.0, posinf=0.0, neginf=0.0)
    props = {
        "height": np.full(n, float(h)), "width": np.full(n, float(w)), "aspect": np.full(n, w / max(h, 1)),
        "brightness": clean.mean(axis=(1, 2)), "contrast": clean.std(axis=(1, 2)),
    }
    channels = images.reshape(-1, images.shape[-1] if color else 1)
    flat = images.reshape(n, -1) if images[0].size <= MAX_FEATURES else None
    thumbs = _thumbnails(np.nan_to_num(images), FEATURE_SIDE)
    pictures = _thumbnails(images, PICTURE_SIDE) if max(h, w) > PICTURE_SIDE else images
    return _Features(props, flat, channels, clean, thumbs.reshape(n, -1), pictures, np.asarray(~finite),
                     props["contrast"] == 0, np.full(n, h == 0 or w == 0))


def _thumbnails(images: np.ndarray, side: int) -> np.ndarray:
    """(n, H, W[, C]) -> (n, side, side[, C]) float32, area resampled."""
    if images.ndim == 3:
        return hashing.resize(images, side).astype(np.float32)
    return np.stack([hashing.resize(images[..., c], side) for c in range(images.shape[-1])], axis=-1).astype(np.float32)


def _image_list_features(xs: list[np.ndarray]) -> _Features:
    """Images of different sizes (an image folder): one at a time; decoding the files costs more anyway."""
    images = [channels_last(np.asarray(im, dtype=np.float32)[None])[0] for im in xs]
    grays = [im.mean(axis=-1) if im.ndim == 3 else im for im in images]
    heights = np.array([g.shape[0] for g in grays], dtype=np.float64)
    widths = np.array([g.shape[1] for g in grays], dtype=np.float64)
    finite = np.array([np.isfinite(im).all() for im in images])
    clean = [np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0) for g in grays]
    props = {
        "height": heights, "width": widths, "aspect": widths / np.maximum(heights, 1),
        "brightness": np.array([g.mean() for g in clean]), "contrast": np.array([g.std() for g in clean]),
    }
    channels = np.concatenate([im.reshape(-1, im.shape[-1] if im.ndim == 3 else 1) for im in images])
    model = np.stack([_thumbnail(im, FEATURE_SIDE).reshape(-1) for im in images]).astype(np.float32)
    pictures = [_thumbnail(im, PICTURE_SIDE) if max(im.shape[:2]) > PICTURE_SIDE else im for im in images]
    return _Features(props, None, channels, clean, model, pictures, ~finite, props["contrast"] == 0,
                     (heights == 0) | (widths == 0))


def _thumbnail(im: np.ndarray, side: int) -> np.ndarray:
    im = np.nan_to_num(im, nan=0.0, posinf=0.0, neginf=0.0)
    if im.ndim == 2:
        return hashing.resize(im[None], side)[0].astype(np.float32)
    return np.stack([hashing.resize(im[None, :, :, c], side)[0] for c in range(im.shape[-1])], axis=-1).astype(np.float32)


def _token_features(chunk: Chunk, vocab: int) -> _Features:
    width = min(vocab, 512)
    if isinstance(chunk.x, np.ndarray) and chunk.x.ndim == 2 and chunk.x.shape[1] > 0:
        return _token_array_features(chunk.x.astype(np.int64), width)
    seqs = [np.asarray(s).reshape(-1).astype(np.int64) for s in (chunk.x if isinstance(chunk.x, list) else list(chunk.x))]
    lengths = np.array([len(s) for s in seqs], dtype=np.float64)
    distinct = np.array([len(np.unique(s)) / max(len(s), 1) for s in seqs])
    # bag-of-tokens features for the reservoir (normalized counts over a capped vocabulary)
    bags = np.zeros((len(seqs), width), dtype=np.float32)
    for i, s in enumerate(seqs):
        bags[i] = np.bincount(np.clip(s, 0, width - 1), minlength=width)[:width] / max(len(s), 1)
    constant = np.array([len(s) > 1 and bool((s == s[0]).all()) for s in seqs])
    return _Features({"length": lengths, "distinct_fraction": distinct}, None, None, None, bags,
                     [s[:256] for s in seqs], np.zeros(len(seqs), bool), constant, lengths == 0)


def _token_array_features(x: np.ndarray, width: int) -> _Features:
    """The same features for (n, T) windows of one length, vectorized (no loop over samples)."""
    n, length = x.shape
    ordered = np.sort(x, axis=1)
    distinct = (1 + (ordered[:, 1:] != ordered[:, :-1]).sum(axis=1)) / length
    offsets = np.arange(n)[:, None] * width
    bags = np.bincount((offsets + np.clip(x, 0, width - 1)).reshape(-1), minlength=n * width).reshape(n, width)
    constant = (x == x[:, :1]).all(axis=1) & (length > 1)
    lengths = np.full(n, float(length))
    return _Features({"length": lengths, "distinct_fraction": distinct}, None, None, None,
                     (bags / length).astype(np.float32), x[:, :256], np.zeros(n, bool), constant, lengths == 0)


def fetch(data: AuditData, split: str, positions: list[int]) -> list[Any] | None:
    """The inputs at `positions` of one split, for pictures of flagged pairs; None where the source cannot seek."""
    source = data.split(split)
    if source is None or source.fetch is None:
        return None
    return source.fetch(positions)
