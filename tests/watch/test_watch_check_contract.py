"""The contract every online check keeps: a stable id, a title, documented thresholds, a pure judge, and every
registered check in every result (a check that raises is an `error` row, never a broken training loop)."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing

import pytest

from nnrecipe.checks.base import NoThresholds
from nnrecipe.watching.checks.base import TRAINING, Verdict, WatchCheck, run_watch_check
from nnrecipe.watching.checks.registry import WATCH_CHECKS
from nnrecipe.watching.record import WatchRecord


@pytest.mark.parametrize("check_id", list(WATCH_CHECKS))
def test_online_check_declares_its_contract(check_id: str) -> None:
    cls = WATCH_CHECKS[check_id]
    assert cls.id == check_id and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", check_id)
    assert cls.title and (inspect.getmodule(cls).__doc__ or "").startswith(f"{check_id}: ")  # type: ignore[union-attr]
    assert dataclasses.is_dataclass(cls.Thresholds)
    lines = [line.strip() for line in inspect.getsource(cls.Thresholds).splitlines()]
    for f in dataclasses.fields(cls.Thresholds()):  # every limit has a default, under a "#:" line saying what it is
        above = lines[:next(i for i, line in enumerate(lines) if line.startswith(f"{f.name}:"))]
        nearest = next((line for line in reversed(above) if not re.match(r"\w+: ", line)), "")
        assert nearest.startswith("#:"), f"{check_id}: the threshold {f.name} is not documented"


@pytest.mark.parametrize("check_id", list(WATCH_CHECKS))
def test_online_check_measures_a_frozen_evidence_dataclass(check_id: str) -> None:
    cls = WATCH_CHECKS[check_id]
    evidence = typing.get_type_hints(cls.measure)["return"]
    assert dataclasses.is_dataclass(evidence) and evidence.__dataclass_params__.frozen  # type: ignore[union-attr]
    assert typing.get_type_hints(cls.judge)["e"] is evidence


@pytest.mark.parametrize("check_id", list(WATCH_CHECKS))
def test_an_empty_record_gives_a_skip_or_a_pass_never_an_error(check_id: str) -> None:
    result = run_watch_check(WATCH_CHECKS[check_id](), WatchRecord(finished=True))
    assert result.stage == TRAINING and result.status in ("skip", "pass"), result.summary


def test_a_check_that_raises_becomes_an_error_row() -> None:
    @dataclasses.dataclass(frozen=True)
    class BrokenEvidence:
        value: float

    class Broken(WatchCheck[BrokenEvidence, NoThresholds]):
        id = "broken"
        title = "Broken"

        def measure(self, record: WatchRecord) -> BrokenEvidence:
            raise ZeroDivisionError("oops")

        def judge(self, e: BrokenEvidence, t: NoThresholds) -> Verdict:
            raise AssertionError("never reached")

    result = run_watch_check(Broken(), WatchRecord())
    assert result.status == "error" and "ZeroDivisionError: oops" in result.summary
    assert "traceback" in result.evidence
