"""The profile is built chunk by chunk: the same result whatever the chunk size, with bounded state."""

from __future__ import annotations

import numpy as np
from helpers import blobs, data, images

from nnrecipe.audit.hashing import near_pairs, pack_bits
from nnrecipe.audit.profile import RESERVOIR, Moments, build_profile


def test_chunk_size_does_not_change_the_profile() -> None:
    (x, y), (xv, yv) = blobs(3000, seed=1), blobs(500, seed=2)
    d = data((np.r_[x, x[:7]], np.r_[y, y[:7]]), (xv, yv))
    small, large = build_profile(d, chunk_size=256), build_profile(d, chunk_size=8192)
    assert small.chunks == 12 + 2 and large.chunks == 2  # structural: ceil(3007/256) + ceil(500/256) chunks
    assert np.array_equal(small.exact, large.exact) and np.array_equal(small.target, large.target)
    # (near hashes may differ: SimHash standardizes with the first chunk's statistics)
    np.testing.assert_allclose(small.splits["train"].moments.mean, np.r_[x, x[:7]].mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(small.splits["train"].moments.std, np.r_[x, x[:7]].std(0, ddof=1), rtol=1e-5)
    assert len(small.exact_groups()) == len(large.exact_groups()) == 7


def test_reservoir_is_bounded_and_uniform() -> None:
    x, y = images(3 * RESERVOIR, side=8, seed=0)
    p = build_profile(data((x, y)), chunk_size=512)
    kept = np.asarray(p.splits["train"].reservoir.index)
    assert len(kept) == RESERVOIR and len(np.unique(kept)) == RESERVOIR
    # a uniform sample of 3 x RESERVOIR keeps about a third of each third
    thirds = np.bincount(kept // RESERVOIR, minlength=3) / RESERVOIR
    assert np.all(np.abs(thirds - 1 / 3) < 0.05)


def test_moments_merge_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(5, 3, (1000, 4))
    values[10, 2] = np.nan
    m = Moments()
    for part in np.array_split(values, 7):
        m.add(part)
    np.testing.assert_allclose(m.mean, np.nanmean(values, 0))
    np.testing.assert_allclose(m.std, np.nanstd(values, 0, ddof=1))
    assert m.low[0] == values[:, 0].min() and m.high[3] == values[:, 3].max()


def test_near_pairs_finds_every_pair_within_two_bits_without_all_pairs() -> None:
    rng = np.random.default_rng(0)
    hashes = pack_bits(rng.integers(0, 2, (20000, 64)).astype(bool))
    flips = np.uint64(1) << np.uint64(5) | np.uint64(1) << np.uint64(40)  # two bits, in different bands
    planted = np.r_[hashes, hashes[:50] ^ flips]
    a, b = near_pairs(planted)
    assert {(int(i), int(j)) for i, j in zip(a, b, strict=True)} == {(k, 20000 + k) for k in range(50)}
