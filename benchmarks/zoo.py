"""The bug zoo's catch table: every spec in tests/zoo through `nnrecipe.check`, with the check expected to
catch it, the status it got, and the time `check` took.

    python benchmarks/zoo.py [--threads 2] [NAME_FILTER ...]

A broken spec is caught when every check in its EXPECT gets the expected status; a correct spec is clean
when no check fails (and none errors).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ZOO = Path(__file__).resolve().parent.parent / "tests" / "zoo"


def zoo_specs(filters: list[str] | None = None) -> list[Path]:
    paths = sorted(p for p in ZOO.glob("*.py") if not p.name.startswith("_"))
    return [p for p in paths if not filters or any(f in p.stem for f in filters)]


def expectation(path: Path) -> Any:
    """The spec's module-level EXPECT, read without running the spec twice."""
    import ast

    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXPECT" for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"{path.name} defines no EXPECT")


def verdict(expect: Any, statuses: dict[str, str]) -> tuple[bool, list[str]]:
    """(ok, lines): whether the result meets the expectation, and what each expected check got."""
    if expect == "clean":
        bad = [f"{cid}={s}" for cid, s in statuses.items() if s in ("fail", "error")]
        return not bad, bad or ["no fail"]
    lines, ok = [], True
    for status, ids in expect.items():
        for cid in ids:
            got = statuses.get(cid, "missing")
            ok &= got == status
            lines.append(f"{cid}: expected {status}, got {got}")
    return ok, lines


def run(path: Path, stages: tuple[str, ...] = ("data", "skeleton")) -> tuple[dict[str, str], float, dict[str, str]]:
    import nnrecipe as nr

    exp = nr.load_spec(path)
    started = time.perf_counter()
    result = nr.check(exp, device="cpu", stages=stages)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    return {c.id: c.status for c in result.checks}, seconds, {c.id: c.summary for c in result.checks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("filters", nargs="*")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stages", default="data,skeleton", help="comma-separated stages to run")
    parser.add_argument("--verbose", action="store_true", help="print every non-pass check's summary")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, times = [], []
    print(f"{'spec':40s} {'expected':44s} {'result':6s} {'time':>6s}")
    for path in zoo_specs(args.filters):
        expect = expectation(path)
        statuses, seconds, summaries = run(path, tuple(args.stages.split(",")))
        ok, lines = verdict(expect, statuses)
        times.append(seconds)
        rows.append((path.stem, expect, ok))
        label = "clean" if expect == "clean" else "; ".join(lines)
        print(f"{path.stem:40s} {label[:44]:44s} {'ok' if ok else 'MISS':6s} {seconds:6.1f}s")
        if args.verbose or not ok:
            for cid, status in statuses.items():
                if status not in ("pass", "skip"):
                    print(f"    {cid:24s} {status:5s} {summaries[cid][:150]}")
    broken = [r for r in rows if r[1] != "clean"]
    correct = [r for r in rows if r[1] == "clean"]
    print(f"\nbroken caught: {sum(r[2] for r in broken)}/{len(broken)}; correct clean: "
          f"{sum(r[2] for r in correct)}/{len(correct)}; check time median {statistics.median(times):.1f}s, "
          f"max {max(times):.1f}s, total {sum(times):.0f}s ({args.threads} threads)")
    return 0 if all(r[2] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
