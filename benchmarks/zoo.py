"""The catch table of the bug zoo (tests/zoo) and the realcode corpus (tests/realcode): every spec through
`nnrecipe.check`, with the check expected to catch it, the status it got, and the time `check` took; then the
false-alarm rate and the warns on the correct setups.

    python benchmarks/zoo.py [--corpus zoo|realcode|all] [--threads 2] [--verbose] [NAME_FILTER ...]

A broken spec is caught when every check in its EXPECT gets the expected status. A correct spec is clean when
no check fails and none errors; in the realcode corpus (correct setups written the way public repositories
write them) it must also get at most one warn. The false-alarm rate is the share of correct setups with any
fail or error.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

TESTS = Path(__file__).resolve().parent.parent / "tests"
ZOO = TESTS / "zoo"
REALCODE = TESTS / "realcode"
CORPORA = {"zoo": ZOO, "realcode": REALCODE}
#: the most warns a correct setup of each corpus may get (None: any number)
MAX_WARNS: dict[str, int | None] = {"zoo": None, "realcode": 1}


def corpus_specs(corpus: str = "all", filters: list[str] | None = None) -> list[Path]:
    """The spec files of one corpus (or of all), sorted, optionally those whose name holds a filter."""
    names = list(CORPORA) if corpus == "all" else [corpus]
    paths = [p for name in names for p in sorted(CORPORA[name].glob("*.py")) if not p.name.startswith("_")]
    return [p for p in paths if not filters or any(f in p.stem for f in filters)]


def zoo_specs(filters: list[str] | None = None) -> list[Path]:
    return corpus_specs("zoo", filters)


def realcode_specs(filters: list[str] | None = None) -> list[Path]:
    return corpus_specs("realcode", filters)


def corpus_of(path: Path) -> str:
    return next((name for name, root in CORPORA.items() if path.parent == root), path.parent.name)


def expectation(path: Path) -> Any:
    """The spec's module-level EXPECT, read without running the spec twice."""
    import ast

    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXPECT" for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"{path.name} defines no EXPECT")


def verdict(expect: Any, statuses: dict[str, str], max_warns: int | None = None) -> tuple[bool, list[str]]:
    """(ok, lines): whether the result meets the expectation, and what each expected check got.

    A correct ("clean") spec has no fail and no error, and at most `max_warns` warns when that is given."""
    if expect == "clean":
        bad = [f"{cid}={s}" for cid, s in statuses.items() if s in ("fail", "error")]
        warns = [cid for cid, s in statuses.items() if s == "warn"]
        if max_warns is not None and len(warns) > max_warns:
            bad.append(f"{len(warns)} warns ({', '.join(warns)}), at most {max_warns} allowed")
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


def run_safely(path: Path, stages: tuple[str, ...]) -> tuple[dict[str, str], float, dict[str, str]]:
    """`run`, with a spec that cannot be loaded or checked at all reported as one `spec` error."""
    started = time.perf_counter()
    try:
        return run(path, stages)
    except Exception as exc:  # noqa: BLE001  (the table goes on; the error is the row's result)
        last = traceback.extract_tb(exc.__traceback__)[-1]
        where = f" ({Path(last.filename).name}:{last.lineno})"
        return ({"spec": "error"}, time.perf_counter() - started,
                {"spec": f"{type(exc).__name__}: {exc}{where}".replace("\n", " ")})


@dataclass
class Row:
    path: Path
    expect: Any
    ok: bool
    seconds: float
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        return self.expect == "clean"

    @property
    def alarmed(self) -> bool:
        """Any fail or error: on a correct setup, a false alarm."""
        return any(s in ("fail", "error") for s in self.statuses.values())

    @property
    def warns(self) -> list[str]:
        return [cid for cid, s in self.statuses.items() if s == "warn"]


def summary(rows: list[Row], label: str) -> list[str]:
    broken = [r for r in rows if not r.correct]
    correct = [r for r in rows if r.correct]
    lines = [f"[{label}] broken caught: {sum(r.ok for r in broken)}/{len(broken)}; "
             f"correct clean: {sum(r.ok for r in correct)}/{len(correct)}"]
    if correct:
        alarms = [r for r in correct if r.alarmed]
        warns = [len(r.warns) for r in correct]
        ids = Counter(cid for r in correct for cid in r.warns)
        listed = ", ".join(f"{cid} x{n}" for cid, n in ids.most_common()) or "none"
        lines.append(f"[{label}] false-alarm rate: {len(alarms)}/{len(correct)} = {len(alarms) / len(correct):.0%} "
                     f"of correct setups with a fail or error"
                     + (f" ({', '.join(r.path.stem for r in alarms)})" if alarms else ""))
        lines.append(f"[{label}] warns per correct setup: mean {statistics.mean(warns):.2f}, max {max(warns)}; "
                     f"warn ids: {listed}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("filters", nargs="*")
    parser.add_argument("--corpus", choices=["zoo", "realcode", "all"], default="all")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stages", default="data,skeleton", help="comma-separated stages to run")
    parser.add_argument("--verbose", action="store_true", help="print every non-pass check's summary")
    parser.add_argument("--python-warnings", action="store_true",
                        help="show the Python warnings the specs raise (hidden by default: they break up the table)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    paths = corpus_specs(args.corpus, args.filters)
    if not paths:
        print("no spec matches")
        return 2
    rows: list[Row] = []
    current = None
    for path in paths:
        corpus = corpus_of(path)
        if corpus != current:
            current = corpus
            print(f"\n{corpus} ({CORPORA.get(corpus, path.parent)})")
            print(f"{'spec':40s} {'expected':44s} {'result':6s} {'time':>6s}")
        expect = expectation(path)
        with warnings.catch_warnings():
            if not args.python_warnings:
                warnings.simplefilter("ignore")
            statuses, seconds, summaries = run_safely(path, tuple(args.stages.split(",")))
        ok, lines = verdict(expect, statuses, MAX_WARNS.get(corpus))
        rows.append(Row(path, expect, ok, seconds, statuses))
        label = "clean" if expect == "clean" else "; ".join(lines)
        print(f"{path.stem:40s} {label[:44]:44s} {'ok' if ok else 'MISS':6s} {seconds:6.1f}s", flush=True)
        if args.verbose or not ok:
            for cid, status in statuses.items():
                if status not in ("pass", "skip"):
                    print(f"    {cid:24s} {status:5s} {summaries[cid][:150]}", flush=True)
    print()
    corpora = sorted({corpus_of(r.path) for r in rows}, key=list(CORPORA).index)
    for corpus in corpora:
        for line in summary([r for r in rows if corpus_of(r.path) == corpus], corpus):
            print(line)
    if len(corpora) > 1:
        for line in summary(rows, "all"):
            print(line)
    times = [r.seconds for r in rows]
    print(f"check time median {statistics.median(times):.1f}s, max {max(times):.1f}s, total {sum(times):.0f}s "
          f"({args.threads} threads)")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
