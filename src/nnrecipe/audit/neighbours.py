"""How far apart a dataset's samples naturally are, so that "near duplicate" means near *for this data*.

A fixed distance cannot tell a copy from a neighbour: in a dense low-dimensional table (polynomial features
x, x^2, x^3 of one variable, a few correlated measurements) thousands of distinct samples sit closer to their
neighbours than any fixed tolerance, while in high-dimensional data genuine neighbours are far apart. So the
near-copy distance is read off the data's own nearest-neighbour distances, measured on the profile's distance
sketch: for NN_QUERIES sampled samples, the distances to their nearest neighbours among *all* samples give

- the intrinsic dimension k, from the ratio of the 4th to the 3rd neighbour distance (for points spread like
  a Poisson process in k dimensions, P(d4/d3 > r) = r^(-3k): the two-nearest-neighbour estimator of Facco et
  al. 2017, moved two ranks out so that a sample's one or two near copies do not bias it), and
- the typical spacing: the median nearest-neighbour distance the 3rd-neighbour distances imply.

In that model the share of samples whose nearest neighbour lies within t is 1 - exp(-ln 2 (t / spacing)^k).
Two samples are near copies when closer than all but NATURAL_RATE of natural nearest-neighbour distances —
and never farther apart than the absolute cap (NEAR_RMS standardized units). The expected share of samples
with such a natural neighbour comes with the limit, so a check can tell an excess of near pairs from the
few a dense table has by chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: samples whose nearest-neighbour distances are measured (against every sample)
NN_QUERIES = 256
#: two samples are near copies when closer than all but this share of natural nearest-neighbour distances
NATURAL_RATE = 1e-3
#: the neighbour ranks the dimension and spacing are read from (robust to two near copies of a sample)
RANK = 3
#: the nearest-neighbour search compares the queries with this many samples at a time
BLOCK = 8192


@dataclass(frozen=True)
class NearScale:
    """The sketch distance under which two samples are near copies, and what it rests on."""

    limit: float  # the near-copy distance
    cap: float  # the absolute cap on it (NEAR_RMS in every standardized feature)
    spacing: float  # the median distance from a sample to its nearest natural neighbour (0: not measured)
    dimension: float  # the intrinsic dimension estimate (0: not measured)
    natural_rate: float  # the expected share of samples with a natural neighbour within `limit`


def near_scale(sketch: np.ndarray, exact: np.ndarray, *, cap: float, max_dimension: int, seed: int) -> NearScale:
    """(N, s) sketches and (N,) exact hashes -> the near-copy distance for this data."""
    n = len(sketch)
    cap = float(cap)
    if n < RANK + 3:
        return NearScale(cap, cap, 0.0, 0.0, 0.0)
    rows = np.random.default_rng([seed, 23]).choice(n, min(NN_QUERIES, n), replace=False)
    near, far = nearest_distances(sketch, exact, rows, ranks=RANK + 1)[:, RANK - 1 :].T
    ok = np.isfinite(far) & (near > 0)
    if ok.sum() < 10:
        # most samples have several neighbours at distance 0 that are not exact copies: massive near copying
        return NearScale(cap, cap, 0.0, 0.0, 0.0)
    ratio = float(np.median(far[ok] / near[ok]))
    dimension = math.log(2) / (RANK * math.log(ratio)) if ratio > 1 else float(max_dimension)
    dimension = min(max(dimension, 1.0), float(max_dimension))
    from scipy.special import gammaincinv

    # the RANK-th neighbour's distance^k is a Gamma(RANK) variable, the nearest one's a Gamma(1)
    spacing = float(np.median(near[np.isfinite(near)])) * (math.log(2) / gammaincinv(RANK, 0.5)) ** (1 / dimension)
    relative = spacing * (-math.log1p(-NATURAL_RATE) / math.log(2)) ** (1 / dimension)
    limit = min(cap, relative)
    natural = -math.expm1(-math.log(2) * (limit / spacing) ** dimension) if spacing > 0 else 0.0
    return NearScale(float(limit), float(cap), spacing, dimension, float(natural))


def nearest_distances(sketch: np.ndarray, exact: np.ndarray, rows: np.ndarray, *, ranks: int) -> np.ndarray:
    """(len(rows), ranks) distances from each query row to its nearest samples, exact copies (itself) left out."""
    queries = sketch[rows].astype(np.float64)
    q2 = (queries**2).sum(axis=1)[:, None]
    best = np.full((len(rows), ranks), np.inf)
    for start in range(0, len(sketch), BLOCK):
        block = sketch[start : start + BLOCK].astype(np.float64)
        # float64 expansion: the differences that matter in a dense table are 1e-6 of the values
        d2 = q2 + (block**2).sum(axis=1)[None, :] - 2 * queries @ block.T  # (queries, block)
        d2[exact[rows][:, None] == exact[start : start + BLOCK][None, :]] = np.inf
        both = np.concatenate([best, np.maximum(d2, 0.0)], axis=1)
        keep = min(ranks, both.shape[1] - 1)
        best = np.sort(np.partition(both, keep, axis=1)[:, :ranks], axis=1)
    return np.sqrt(best)
