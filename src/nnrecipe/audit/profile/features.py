"""Per-kind features of one chunk: the scalar properties, per-feature and per-channel views, hash inputs, thumbnails."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnrecipe.audit import hashing
from nnrecipe.audit.sources import AuditData, Chunk

#: thumbnail side for the reservoir's image features and pictures
FEATURE_SIDE = 16
PICTURE_SIDE = 64
#: per-feature statistics are kept for at most this many features (per channel beyond it, for images)
MAX_FEATURES = 4096


@dataclass
class Features:
    """What the profile takes from one chunk, whatever its kind: properties, views for statistics and hashes."""

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
    def of(data: AuditData, chunk: Chunk) -> Features:
        """The features of a chunk of this data's kind."""
        if data.kind == "image":
            return _image_features(chunk)
        if data.kind == "text":
            return _token_features(chunk, data.num_classes or 1)
        return _vector_features(chunk)


def _vector_features(chunk: Chunk) -> Features:
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
    return Features(
        properties=props, flat=x, channels=None, gray=None, model_features=safe.astype(np.float32),
        pictures=x.astype(np.float32), nonfinite=np.asarray(~finite.all(axis=1)),
        constant=(props["std"] == 0) & (x.shape[1] > 1), empty=np.zeros(len(x), bool) if x.shape[1] else np.ones(len(x), bool),
    )


def channels_last(x: np.ndarray) -> np.ndarray:
    """(n, C, H, W) with a small C -> (n, H, W, C); (n, H, W) and (n, H, W, C) unchanged."""
    if x.ndim == 4 and x.shape[1] in (1, 3, 4) and x.shape[-1] not in (1, 3, 4):
        return np.moveaxis(x, 1, -1)
    return x


def _image_features(chunk: Chunk) -> Features:
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
    return Features(props, flat, channels, clean, thumbs.reshape(n, -1), pictures, np.asarray(~finite),
                     props["contrast"] == 0, np.full(n, h == 0 or w == 0))


def _thumbnails(images: np.ndarray, side: int) -> np.ndarray:
    """(n, H, W[, C]) -> (n, side, side[, C]) float32, area resampled."""
    if images.ndim == 3:
        return hashing.resize(images, side).astype(np.float32)
    return np.stack([hashing.resize(images[..., c], side) for c in range(images.shape[-1])], axis=-1).astype(np.float32)


def _image_list_features(xs: list[np.ndarray]) -> Features:
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
    return Features(props, None, channels, clean, model, pictures, ~finite, props["contrast"] == 0,
                     (heights == 0) | (widths == 0))


def _thumbnail(im: np.ndarray, side: int) -> np.ndarray:
    im = np.nan_to_num(im, nan=0.0, posinf=0.0, neginf=0.0)
    if im.ndim == 2:
        return hashing.resize(im[None], side)[0].astype(np.float32)
    return np.stack([hashing.resize(im[None, :, :, c], side)[0] for c in range(im.shape[-1])], axis=-1).astype(np.float32)


def _token_features(chunk: Chunk, vocab: int) -> Features:
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
    return Features({"length": lengths, "distinct_fraction": distinct}, None, None, None, bags,
                     [s[:256] for s in seqs], np.zeros(len(seqs), bool), constant, lengths == 0)


def _token_array_features(x: np.ndarray, width: int) -> Features:
    """The same features for (n, T) windows of one length, vectorized (no loop over samples)."""
    n, length = x.shape
    ordered = np.sort(x, axis=1)
    distinct = (1 + (ordered[:, 1:] != ordered[:, :-1]).sum(axis=1)) / length
    offsets = np.arange(n)[:, None] * width
    bags = np.bincount((offsets + np.clip(x, 0, width - 1)).reshape(-1), minlength=n * width).reshape(n, width)
    constant = (x == x[:, :1]).all(axis=1) & (length > 1)
    lengths = np.full(n, float(length))
    return Features({"length": lengths, "distinct_fraction": distinct}, None, None, None,
                     (bags / length).astype(np.float32), x[:, :256], np.zeros(n, bool), constant, lengths == 0)


def token_lengths(chunk: Chunk, ignore: int | None) -> np.ndarray:
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
