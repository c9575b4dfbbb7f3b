"""In CI: `nr.testing.assert_checks` in a test suite, `nnrecipe check --junit` for the CI's test report."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

import nnrecipe as nr
from nnrecipe.cli import main
from nnrecipe.errors import UsageError
from nnrecipe.spec import load_spec

SPEC = str(Path(__file__).parent / "ci_spec.py")
FEW = ["init-loss", "overfit-one-batch", "loss-decreases", "lr-schedule"]


def test_assert_checks_passes_a_correct_setup_and_returns_its_result() -> None:
    result = nr.testing.assert_checks(SPEC)
    assert isinstance(result, nr.RunResult) and not result.failed


def test_assert_checks_lists_each_failing_check_with_its_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNRECIPE_TEST_BROKEN", "1")
    with pytest.raises(AssertionError) as raised:
        nr.testing.assert_checks(load_spec(SPEC), ids=FEW)
    message = str(raised.value)
    assert "on 'ci-blobs'" in message and "- overfit-one-batch (skeleton) fail: could not overfit" in message
    assert "  fix: " in message and "softmax" in message


def test_assert_checks_can_be_strict_about_warnings_and_refuses_unknown_statuses() -> None:
    with pytest.raises(UsageError, match="allow"):
        nr.testing.assert_checks(SPEC, allow=("wran",))
    nr.testing.assert_checks(SPEC, allow=(), ids=FEW)  # this setup has no warning either


def test_check_junit_writes_one_testcase_per_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNRECIPE_TEST_BROKEN", "1")
    junit = tmp_path / "reports" / "nnrecipe.xml"
    code = main(["check", SPEC, "--only", ",".join(FEW), "--junit", str(junit)])
    assert code == 1
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == set(FEW) and suite.get("tests") == "4"
    failure = cases["overfit-one-batch"].find("failure")
    assert failure is not None and failure.get("type") == "fail" and "fix:" in (failure.text or "")
    assert cases["lr-schedule"].find("skipped") is not None  # no scheduler: skipped, with the reason
    assert suite.get("skipped") == "1" and int(suite.get("failures") or 0) >= 1
    passed = [c for c in cases.values() if c.find("failure") is None and c.find("skipped") is None]
    assert all((c.findtext("system-out") or "").startswith(("pass:", "warn:")) for c in passed)
