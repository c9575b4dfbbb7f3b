"""Building the profile: one streaming pass over every split, each chunk folded into the columns and statistics."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnrecipe.audit import hashing, spans
from nnrecipe.audit.profile.accumulators import Reservoir, add_counts, align
from nnrecipe.audit.profile.core import SKETCH, Profile, SplitProfile
from nnrecipe.audit.profile.features import MAX_FEATURES, Features, token_lengths
from nnrecipe.audit.sources import CHUNK, AuditData, Chunk, Failure

#: reservoir sample kept per split: the pictures and the quick models of label-issues and target-leakage
RESERVOIR = 4096


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
    """The state of the one pass: the per-sample columns so far, the split profiles, the hashing reference."""

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
        """Fold one chunk of split number `code` into the columns and into its split's statistics."""
        self.chunks += 1
        sp.failures.add([_failure(f) for f in chunk.failures])
        n = len(chunk)
        if n == 0:
            return
        sp.read += n
        feats = Features.of(self.data, chunk)
        self._add_columns(code, chunk)
        near = self._near_hash(feats)
        if near is not None:
            self._append("near", near)
        if self.data.kind == "text":
            lengths = token_lengths(chunk, self.data.ignore_index)
            feats.properties["length"] = lengths.astype(np.float64)  # padding is no length
            self._window_ends(code, chunk, feats.properties["length"].astype(np.int64))
        for key, values in feats.properties.items():
            self._append("prop:" + key, values.astype(np.float32))
        self._fold_stats(sp, chunk, feats)

    def _add_columns(self, code: int, chunk: Chunk) -> None:
        """The columns every kind has: split, index, exact hash, target summary and hash, path."""
        n = len(chunk)
        self._append("split_of", np.full(n, code, dtype=np.uint8))
        self._append("index", chunk.index.astype(np.int64))
        self._append("exact", hashing.exact_hashes(chunk.x))
        summary, labelled = _target_summary(self.data.task, chunk.y, self.data.ignore_index)
        self._append("target", summary)
        self._append("labelled", labelled)
        self._append("target_hash", hashing.exact_hashes(_as_rows(chunk.y)))
        self.paths.append(np.asarray(chunk.paths if chunk.paths else [None] * n, dtype=object))
        self.has_paths |= chunk.paths is not None

    def _near_hash(self, feats: Features) -> np.ndarray | None:
        """pHash for images, SimHash (and the distance sketch) for vectors and signals, None for tokens."""
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

    def _fold_stats(self, sp: SplitProfile, chunk: Chunk, feats: Features) -> None:
        """The chunk's flagged samples, moments, extremes, targets and reservoir draws into its split profile."""
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
        """Class counts; for sequences, token counts and the next-token alignment."""
        task, classes, ignore = self.data.task, self.data.num_classes or 0, self.data.ignore_index
        if task == "classification":
            y = chunk.y.astype(np.int64).reshape(-1)
            sp.class_counts = add_counts(sp.class_counts, y[y != ignore] if ignore is not None else y, classes)
        elif task == "sequence":
            xs = chunk.x if isinstance(chunk.x, list) else list(chunk.x)
            ys = list(chunk.y)
            tokens = np.concatenate([np.asarray(x).reshape(-1) for x in xs]).astype(np.int64)
            sp.token_counts = add_counts(sp.token_counts, tokens, classes)
            if isinstance(chunk.x, np.ndarray) and chunk.x.ndim == 2 and chunk.y.shape == chunk.x.shape:
                align(sp.alignment, chunk.x, chunk.y, ignore)  # windows of one length: all rows at once
                return
            for x, y in zip(xs, ys, strict=False):
                align(sp.alignment, np.asarray(x).reshape(1, -1), np.asarray(y).reshape(1, -1), ignore)

    def finish(self) -> Profile:
        """The profile of everything added: each column's chunks concatenated."""
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
