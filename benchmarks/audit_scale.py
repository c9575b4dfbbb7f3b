"""The data audit at scale: 1,000,000 generated samples with planted problems at known indices.

Two generated datasets stream through `nnrecipe audit`'s one-pass profile and every data check:
  vectors  32 float32 features, 500,000 samples (train 400k / val 50k / test 50k)
  images   16x16 uint8 noise pictures, 500,000 samples (same splits)
Planted in each, at known indices: exact duplicates and near duplicates within train, exact copies of train
in val and near copies of train in test (cross-split leakage), and exact copies in train carrying another
label (label conflicts). The script checks that every planted pair is found and nothing else is flagged,
and prints the time and peak memory. The data is generated chunk by chunk and never held whole, so the
peak memory is the audit's own. Then, on 10,000 of the images written as PNG files, cleanvision's
duplicate finder and nnrecipe's audit of the same folder are timed side by side.

    python benchmarks/audit_scale.py            # the full run
    python benchmarks/audit_scale.py --n 100000 # smaller
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nnrecipe.audit.context import AuditContext
from nnrecipe.audit.profile import build_profile
from nnrecipe.audit.sources import AuditData, Chunk, Split
from nnrecipe.runner import audit_data

GEN_CHUNK = 4096
CLASSES = 10
PLANTED = 100  # of each kind


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Generated:
    """A dataset generated on demand per index block, with planted copies: sample(split, i) is deterministic."""

    def __init__(self, kind: str, sizes: dict[str, int], seed: int = 0) -> None:
        self.kind, self.sizes, self.seed = kind, sizes, seed
        self.shape = (32,) if kind == "table" else (16, 16)
        rng = np.random.default_rng(seed + 1)
        n_train = sizes["train"]
        # planted: target (split, index) <- (source train index, transform); sources and targets never overlap
        picks = rng.choice(n_train // 2, 5 * PLANTED, replace=False)
        targets = {s: rng.choice(np.arange(n_train // 2, n_train) if s == "train" else sizes[s], 3 * PLANTED, replace=False)
                   for s in ("train", "val", "test")}
        self.plan: dict[tuple[str, int], tuple[int, str]] = {}
        kinds = [("train", "exact"), ("train", "near"), ("val", "exact"), ("test", "near"), ("train", "conflict")]
        used = {"train": 0, "val": 0, "test": 0}
        for k, (split, how) in enumerate(kinds):
            for j in range(PLANTED):
                target = int(targets[split][used[split]])
                used[split] += 1
                self.plan[(split, target)] = (int(picks[k * PLANTED + j]), how)

    def block(self, split: str, start: int) -> tuple[np.ndarray, np.ndarray]:
        """The unplanted samples of one generation block."""
        code = ("train", "val", "test").index(split)
        rng = np.random.default_rng([self.seed, code, start])
        n = min(GEN_CHUNK, self.sizes[split] - start)
        y = rng.integers(0, CLASSES, n)
        if self.kind == "table":
            x = rng.standard_normal((n, 32), dtype=np.float32) + y[:, None].astype(np.float32) * 0.1
        else:
            x = rng.integers(0, 256, (n, 16, 16), dtype=np.uint8)
        return x, y

    def base(self, split: str, i: int) -> tuple[np.ndarray, int]:
        x, y = self.block(split, i - i % GEN_CHUNK)
        return x[i % GEN_CHUNK], int(y[i % GEN_CHUNK])

    def chunk(self, split: str, start: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.block(split, start)
        for i in range(start, start + len(x)):
            if (split, i) in self.plan:
                source, how = self.plan[(split, i)]
                sx, sy = self.base("train", source)
                x[i - start], y[i - start] = self._transform(sx, how, i), (sy + 1) % CLASSES if how == "conflict" else sy
        return x, y

    def _transform(self, x: np.ndarray, how: str, i: int) -> np.ndarray:
        if how != "near":
            return x.copy()
        rng = np.random.default_rng([self.seed, 99, i])
        if self.kind == "table":
            return (x + rng.normal(0, 0.01, x.shape)).astype(np.float32)  # 1% of a feature's std
        return np.clip(x.astype(np.int16) + 4, 0, 255).astype(np.uint8)  # re-exposed copy: brighter by 4 levels

    def audit_data(self) -> AuditData:
        splits = tuple(Split(s, n, self._stream(s), lambda idx, s=s: [self.chunk(s, i - i % GEN_CHUNK)[0][i % GEN_CHUNK] for i in idx])
                       for s, n in self.sizes.items())
        return AuditData(name=f"generated-{self.kind}", task="classification", kind="image" if self.kind == "image" else "table",
                         splits=splits, num_classes=CLASSES, origin="generated")

    def _stream(self, split: str) -> Any:
        def stream(size: int) -> Iterator[Chunk]:
            assert size % GEN_CHUNK == 0
            for start in range(0, self.sizes[split], size):
                parts = [self.chunk(split, s) for s in range(start, min(start + size, self.sizes[split]), GEN_CHUNK)]
                x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
                yield Chunk(split, np.arange(start, start + len(x)), x, y)
        return stream

    def expected(self) -> dict[str, set[tuple[Any, ...]]]:
        """The pairs every check should report, as ((split, index), (split, index)) with the source first."""
        out: dict[str, set[tuple[Any, ...]]] = {"exact-within": set(), "near-within": set(), "exact-cross": set(),
                                                "near-cross": set(), "conflict": set()}
        for (split, target), (source, how) in self.plan.items():
            pair = (("train", source), (split, target))
            if how == "conflict":
                out["conflict"].add(pair)
                out["exact-within"].add(pair)  # a conflicting copy is also an exact duplicate
            elif split == "train":
                out[f"{how}-within"].add(pair)
            else:
                out[f"{how}-cross"].add(pair)
        return out


def found_pairs(profile: Any) -> dict[str, set[tuple[Any, ...]]]:
    def key(i: int) -> tuple[str, int]:
        return profile.split_names[int(profile.split_of[i])], int(profile.index[i])

    def rank(k: tuple[str, int]) -> tuple[int, int]:
        return ("train", "val", "test").index(k[0]), k[1]

    out: dict[str, set[tuple[Any, ...]]] = {"exact-within": set(), "near-within": set(), "exact-cross": set(),
                                            "near-cross": set(), "conflict": set()}
    for group in profile.exact_groups():
        members = sorted((key(int(i)) for i in group), key=rank)
        for other in members[1:]:
            pair = (members[0], other)
            out["exact-within" if pair[0][0] == pair[1][0] else "exact-cross"].add(pair)
            if profile.target[group].min() != profile.target[group].max():
                out["conflict"].add(pair)
    a, b = profile.near_pairs()
    for i, j in zip(a, b, strict=True):
        pair = tuple(sorted((key(int(i)), key(int(j))), key=rank))
        out["near-within" if pair[0][0] == pair[1][0] else "near-cross"].add(pair)
    return out


def run_dataset(kind: str, n: int) -> None:
    sizes = {"train": int(n * 0.8), "val": n // 10, "test": n // 10}
    gen = Generated(kind, sizes)
    data = gen.audit_data()
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    ctx = AuditContext(data, seed=0)
    profile = ctx.shared("audit:profile", lambda: build_profile(data, seed=0, chunk_size=4 * GEN_CHUNK))
    profiled = time.perf_counter() - started
    result = audit_data_with(ctx)
    total = time.perf_counter() - started
    expected, found = gen.expected(), found_pairs(profile)
    per_sample = sum(v.nbytes for v in (profile.split_of, profile.index, profile.exact, profile.target, profile.target_hash))
    per_sample += sum(v.nbytes for v in profile.properties.values()) + (profile.near.nbytes if profile.near is not None else 0)
    per_sample += profile.sketch.nbytes if profile.sketch is not None else 0
    print(f"\n== {kind}: {n:,} samples ({', '.join(f'{k} {v:,}' for k, v in sizes.items())}), {profile.chunks} chunks")
    print(f"profile (one pass): {profiled:.1f} s; all data checks: {total:.1f} s; "
          f"{n / total:,.0f} samples/s")
    print(f"peak RSS {peak_rss_mb():.0f} MB (before: {rss_before:.0f} MB); per-sample columns "
          f"{per_sample / n:.0f} bytes/sample = {per_sample / 2**20:.0f} MB")
    ok = True
    for name in expected:
        missed, extra = expected[name] - found[name], found[name] - expected[name]
        ok &= not missed and not extra
        print(f"  {name:13s} planted {len(expected[name]):4d}  found {len(found[name] & expected[name]):4d}  "
              f"missed {len(missed):3d}  false {len(extra):3d}")
    print("  every planted problem found, nothing else flagged" if ok else "  MISMATCH between planted and found")
    for c in result.checks:
        print(f"  {c.id:20s} {c.status:5s} {c.seconds:6.2f}s  {c.summary[:110]}")


def audit_data_with(ctx: AuditContext) -> Any:
    from typing import cast

    from nnrecipe.checks.context import CheckContext
    from nnrecipe.results import RunResult
    from nnrecipe.runner import run_checks, select_checks

    ran = run_checks(select_checks(stages=["data"]), cast(CheckContext, ctx))
    return RunResult(experiment=ctx.data.name, checks=ran.results, command="audit")


def cleanvision_comparison(count: int) -> None:
    """cleanvision's exact+near duplicate finder vs nnrecipe's audit, on the same PNG folder."""
    from PIL import Image

    gen = Generated("image", {"train": count, "val": count // 10, "test": count // 10}, seed=5)  # train is written
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "imgs"
        for start in range(0, count, GEN_CHUNK):
            x, y = gen.chunk("train", start)
            for k in range(len(x)):
                folder = root / f"c{y[k]}"
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(x[k]).save(folder / f"{start + k}.png")
        print(f"\n== {count:,} PNG images (200 exact copies, 100 brightened copies planted): duplicate finding")
        os.environ.setdefault("TQDM_DISABLE", "1")  # cleanvision's progress bars
        try:
            from cleanvision import Imagelab
        except ImportError as exc:
            print(f"cleanvision is not installed ({exc}); `pip install cleanvision` to compare")
        else:
            started = time.perf_counter()
            lab = Imagelab(data_path=str(root))
            lab.find_issues({"exact_duplicates": {}, "near_duplicates": {}}, verbose=False)
            summary = lab.issue_summary.set_index("issue_type")["num_images"].to_dict()
            print(f"cleanvision exact+near duplicates: {time.perf_counter() - started:.1f} s  {summary}")
        from nnrecipe.audit.sources import from_path

        started = time.perf_counter()
        result = audit_data(from_path(root), ids=["duplicates", "near-duplicates"])
        counts = {c.id: c.evidence["per_split"]["train"] for c in result.checks}
        print(f"nnrecipe duplicates+near-duplicates: {time.perf_counter() - started:.1f} s  "
              f"exact redundant {counts['duplicates']['redundant']}, near pairs {counts['near-duplicates']['pairs']}")
        started = time.perf_counter()
        audit_data(from_path(root))
        print(f"nnrecipe full audit (all data checks): {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500_000, help="samples per dataset (two datasets)")
    parser.add_argument("--images", type=int, default=10_000, help="images for the cleanvision comparison")
    args = parser.parse_args()
    started = time.perf_counter()
    for kind in ("table", "image"):
        run_dataset(kind, args.n)
    print(f"\ntotal for {2 * args.n:,} samples: {time.perf_counter() - started:.1f} s, peak RSS {peak_rss_mb():.0f} MB")
    if args.images:
        cleanvision_comparison(args.images)


if __name__ == "__main__":
    main()
