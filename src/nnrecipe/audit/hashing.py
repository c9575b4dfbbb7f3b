"""Hashes that find duplicates without comparing all pairs.

- `exact_hashes`: a 64-bit BLAKE2b digest of each sample's bytes and shape: equal hashes are equal samples.
- `phash`: the perceptual hash of an image (DCT of a 32x32 grey thumbnail, the 8x8 lowest frequencies
  thresholded at their median — the same recipe as `imagehash.phash`, vectorized over a chunk).
- `simhash`: 64 random-hyperplane signs of a standardized vector: the Hamming distance between two hashes
  estimates the angle between the vectors.
- `near_pairs`: every pair of 64-bit hashes within `MAX_HAMMING` bits. By the pigeonhole principle two hashes
  that differ in at most k bits agree exactly on one of k+1 bands, so sorting by each band and looking at
  neighbours in sorted order finds them all (a sorted-hash multi-index, O(n log n), no all-pairs comparison).
- `span_hashes`: a rolling hash of every run of `length` consecutive tokens in a row of token ids, to find text
  that two token windows share (a window and the same text shifted by a few tokens share long spans).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

import numpy as np

#: two near-hashes within this many of 64 bits are "near": for pHash about imagehash's "same picture" range,
#: for SimHash an angle of a few degrees between standardized vectors
MAX_HAMMING = 2
#: in a bucket of identical band values, each hash is paired with at most this many neighbours in sorted
#: order; a huge bucket (thousands of blank images) still ends up connected, as a chain, without n^2 pairs
MAX_NEIGHBOURS = 32
THUMB = 32  # pHash thumbnail side
_BANDS = MAX_HAMMING + 1


def exact_hashes(x: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """(n,) uint64: a digest of each sample's dtype, shape and bytes (-0.0 folded into 0.0)."""
    out = np.empty(len(x), dtype=np.uint64)
    if isinstance(x, np.ndarray):
        rows = np.ascontiguousarray(_canonical(x).reshape(len(x), -1))
        salt = f"{rows.dtype.str}{x.shape[1:]}".encode()
        buf, width = rows.tobytes(), rows.shape[1] * rows.dtype.itemsize
        for i in range(len(x)):
            out[i] = _digest(salt, buf[i * width : (i + 1) * width])
        return out
    for i, sample in enumerate(x):
        arr = np.ascontiguousarray(_canonical(np.asarray(sample)))
        out[i] = _digest(f"{arr.dtype.str}{arr.shape}".encode(), arr.tobytes())
    return out


def _canonical(a: np.ndarray) -> np.ndarray:
    return a + 0.0 if a.dtype.kind == "f" else a  # -0.0 == 0.0, so they must hash alike


def _digest(salt: bytes, data: bytes) -> int:
    h = hashlib.blake2b(data, digest_size=8, salt=salt[:16].ljust(16, b"\0"))
    return int.from_bytes(h.digest(), "little")


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """(n, 64) booleans -> (n,) uint64."""
    packed = np.packbits(bits.astype(np.uint8), axis=1, bitorder="little")  # (n, 8)
    return np.ascontiguousarray(packed).view("<u8").reshape(-1).astype(np.uint64)


@functools.lru_cache(maxsize=64)
def area_matrix(src: int, dst: int) -> np.ndarray:
    """(dst, src) weights averaging the source pixels each destination pixel covers (area resampling)."""
    edges = np.linspace(0.0, src, dst + 1)
    m = np.zeros((dst, src))
    for i in range(dst):
        lo, hi = edges[i], edges[i + 1]
        for j in range(int(np.floor(lo)), int(np.ceil(hi))):
            m[i, j] = min(hi, j + 1) - max(lo, j)
    return m / m.sum(axis=1, keepdims=True)


def resize(gray: np.ndarray, side: int) -> np.ndarray:
    """(n, H, W) -> (n, side, side) by area resampling, as two small matrix products."""
    rows, cols = area_matrix(gray.shape[1], side), area_matrix(gray.shape[2], side)
    dtype = gray.dtype if gray.dtype.kind == "f" else np.float64
    return np.matmul(np.matmul(rows.astype(dtype), gray.astype(dtype)), cols.T.astype(dtype))  # (n, side, side)


def phash(gray: np.ndarray) -> np.ndarray:
    """(n, H, W) grey images -> (n,) uint64 perceptual hashes."""
    from scipy.fft import dctn

    thumbs = resize(gray.astype(np.float64), THUMB)
    low = dctn(thumbs, type=2, axes=(1, 2), norm="ortho")[:, :8, :8].reshape(len(gray), 64)
    return pack_bits(low > np.median(low, axis=1, keepdims=True))


def simhash(z: np.ndarray, planes: np.ndarray) -> np.ndarray:
    """(n, d) standardized vectors and (d, 64) random planes -> (n,) uint64 sign hashes."""
    return pack_bits(z @ planes > 0)


def popcount(v: np.ndarray) -> np.ndarray:
    return np.unpackbits(v.astype("<u8").view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def near_pairs(hashes: np.ndarray, tiebreak: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i < j) whose hashes differ in at most MAX_HAMMING bits; chained inside huge buckets.

    Inside a bucket the hashes sort by their full value, then by `tiebreak` (a 1-D projection of the vectors):
    in dense low-dimensional data thousands of samples share one hash, and a sample's near copy must still be
    among its MAX_NEIGHBOURS neighbours in sorted order, not wherever its index put it.
    """
    found: list[np.ndarray] = []
    for band in range(_BANDS):
        keys = _band(hashes, band)
        order = np.lexsort((tiebreak, hashes, keys) if tiebreak is not None else (hashes, keys))
        sorted_keys = keys[order]
        for step in range(1, MAX_NEIGHBOURS + 1):
            same = np.nonzero(sorted_keys[step:] == sorted_keys[:-step])[0]
            if len(same) == 0:
                break
            a, b = order[same], order[same + step]
            close = popcount(hashes[a] ^ hashes[b]) <= MAX_HAMMING
            found.append(np.stack([np.minimum(a, b)[close], np.maximum(a, b)[close]], axis=1))
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pairs = np.unique(np.concatenate(found), axis=0)
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)


def _band(hashes: np.ndarray, band: int) -> np.ndarray:
    lo = band * 64 // _BANDS
    hi = (band + 1) * 64 // _BANDS
    mask = np.uint64((1 << (hi - lo)) - 1)
    return (hashes >> np.uint64(lo)) & mask


def groups_of(keys: np.ndarray) -> list[np.ndarray]:
    """Positions sharing a key, for every key held more than once (sorted, so O(n log n))."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.r_[0, np.nonzero(sorted_keys[1:] != sorted_keys[:-1])[0] + 1]
    sizes = np.diff(np.r_[starts, len(keys)])
    return [order[s : s + n] for s, n in zip(starts[sizes > 1], sizes[sizes > 1], strict=False)]


_SPAN_BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
_MASK = (1 << 64) - 1


@functools.lru_cache(maxsize=16)
def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """base**i and base**-i modulo 2**64, for i < n."""
    inverse = _SPAN_BASE
    for _ in range(6):  # Newton's iteration doubles the correct low bits each step: 6 steps reach 64
        inverse = inverse * (2 - _SPAN_BASE * inverse) & _MASK
    up, down, a, b = [], [], 1, 1
    for _ in range(n):
        up.append(a)
        down.append(b)
        a, b = a * _SPAN_BASE & _MASK, b * inverse & _MASK
    return np.array(up, dtype=np.uint64), np.array(down, dtype=np.uint64)


def span_hashes(tokens: np.ndarray, length: int) -> np.ndarray:
    """(n, T) token ids -> (n, T - length + 1) uint64: the hash of tokens[:, i : i + length] at every offset i.

    A polynomial hash modulo 2**64 from prefix sums (O(T) a row whatever the span length), mixed by splitmix64
    so that its low bits are uniform (they decide which spans a bounded sample keeps).
    """
    n, width = tokens.shape
    up, down = _powers(width + 1)
    terms = (tokens.astype(np.int64) + 1).astype(np.uint64) * up[:width]  # wraps modulo 2**64, as intended
    prefix = np.zeros((n, width + 1), dtype=np.uint64)
    np.cumsum(terms, axis=1, out=prefix[:, 1:])
    spans = (prefix[:, length:] - prefix[:, :-length]) * down[: width - length + 1]
    return mix64(spans)


def mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection of uint64 that spreads every input bit over every output bit."""
    z = z.astype(np.uint64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
