"""The bug zoo: every broken spec in tests/zoo gets its expected fail (or warn), and no correct spec gets any.

Each spec file defines experiment() and a module-level EXPECT: {"fail": [ids], "warn": [ids]} or "clean".
benchmarks/zoo.py prints the same table with timings.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import zoo  # noqa: E402  (benchmarks/zoo.py: the zoo's runner and its verdict)

SPECS = zoo.zoo_specs()


def test_the_zoo_is_big_and_varied() -> None:
    broken = [p for p in SPECS if zoo.expectation(p) != "clean"]
    correct = [p for p in SPECS if zoo.expectation(p) == "clean"]
    assert len(broken) >= 25 and len(correct) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_zoo_spec(path: Path) -> None:
    statuses, _, summaries = zoo.run(path)
    ok, lines = zoo.verdict(zoo.expectation(path), statuses)
    assert ok, "; ".join(lines) + " | " + "; ".join(f"{k}: {summaries[k]}" for k in statuses
                                                      if statuses[k] in ("fail", "error"))
