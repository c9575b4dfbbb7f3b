"""nnrecipe in a test suite: `assert_checks` for pytest, JUnit XML for CI (`nnrecipe check SPEC --junit PATH`).

```python
def test_the_training_setup():
    nr.testing.assert_checks("my_spec.py")              # AssertionError listing each failing check and its fix
```
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from nnrecipe.errors import UsageError
from nnrecipe.results import STATUSES, RunResult, Stage

__all__ = ["assert_checks", "junit_xml", "write_junit"]

#: statuses that `allow` may let through (a pass always goes through, and a skip says why it did not run)
ALLOWABLE = ("warn", "fail", "error")


def assert_checks(spec_or_experiment: Any, *, allow: Iterable[str] = ("warn",), ids: Sequence[str] | None = None,
                  stages: Iterable[Stage] = ("data", "skeleton"), device: str = "auto",
                  seed: int | None = None) -> RunResult:
    """Run the checks of `nnrecipe check` on a spec (a file, a built-in name) or an `Experiment`, and raise
    `AssertionError` listing every check whose status is not a pass, a skip or one of `allow`, each with its
    summary and fix. Returns the result when nothing fails."""
    from nnrecipe.experiment import Experiment
    from nnrecipe.runner import check
    from nnrecipe.spec import load_spec

    allowed = set(allow)
    unknown = allowed - set(ALLOWABLE)
    if unknown:
        raise UsageError(f"assert_checks: expected allow to hold statuses out of {', '.join(ALLOWABLE)}, but got "
                         f"{', '.join(sorted(map(repr, unknown)))}")
    experiment = spec_or_experiment if isinstance(spec_or_experiment, Experiment) else load_spec(spec_or_experiment)
    result = check(experiment, stages=tuple(stages), ids=ids, device=device, seed=seed)
    failing = [c for c in result.checks if c.status not in ("pass", "skip") and c.status not in allowed]
    if failing:
        lines = [f"{len(failing)} of {len(result.checks)} nnrecipe checks did not pass on {result.experiment!r}:"]
        for c in failing:
            lines.append(f"- {c.id} ({c.stage}) {c.status}: {c.summary}")
            if c.fix:
                lines.append(f"  fix: {c.fix}")
        raise AssertionError("\n".join(lines))
    return result


def junit_xml(result: RunResult) -> str:
    """The checks as JUnit XML: one testcase per check; fail and error are failures, skip is skipped, and a
    warning passes with its summary in the testcase's output."""
    counts = {s: sum(c.status == s for c in result.checks) for s in STATUSES}
    seconds = f"{sum(c.seconds for c in result.checks):.3f}"
    totals = {"tests": str(len(result.checks)), "failures": str(counts["fail"] + counts["error"]), "errors": "0",
              "skipped": str(counts["skip"]), "time": seconds}
    root = ElementTree.Element("testsuites", {"name": "nnrecipe", **totals})
    suite = ElementTree.SubElement(root, "testsuite", {"name": f"nnrecipe {result.command}: {result.experiment}",
                                                       "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"), **totals})
    for c in result.checks:
        case = ElementTree.SubElement(suite, "testcase", {"classname": f"nnrecipe.{c.stage}", "name": c.id,
                                                          "time": f"{c.seconds:.3f}"})
        detail = c.summary + (f"\nfix: {c.fix}" if c.fix else "")
        if c.status in ("fail", "error"):
            failure = ElementTree.SubElement(case, "failure", {"message": c.summary, "type": c.status})
            failure.text = detail + (f"\n{c.evidence['traceback']}" if "traceback" in c.evidence else "")
        elif c.status == "skip":
            ElementTree.SubElement(case, "skipped", {"message": c.summary})
        else:
            ElementTree.SubElement(case, "system-out").text = f"{c.status}: {detail}"
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def write_junit(result: RunResult, path: str | Path) -> None:
    """`junit_xml(result)` written atomically to `path`."""
    from nnrecipe.engine.checkpoint import atomic_write_text

    target = Path(path)
    if target.is_dir():
        raise UsageError(f"--junit {str(target)!r}: expected a file path, but it is a folder")
    atomic_write_text(target, junit_xml(result))
