"""The contract every registered check keeps: id, stage, title, a Thresholds dataclass, and on a correct toy
experiment of every task a status in pass/warn/skip (never fail or error)."""

from __future__ import annotations

import dataclasses
import re

import pytest

import nnrecipe as nr
import toy
from nnrecipe.checks.registry import CHECKS
from nnrecipe.results import STAGES


@pytest.mark.parametrize("check_id", list(CHECKS))
def test_check_declares_its_contract(check_id: str) -> None:
    cls = CHECKS[check_id]
    assert cls.id == check_id and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", check_id)
    assert cls.stage in STAGES
    assert cls.title
    assert dataclasses.is_dataclass(cls.Thresholds)
    cls.Thresholds()  # every limit has a default


@pytest.mark.parametrize("make", [toy.classification, toy.regression, toy.sequence])
def test_correct_toys_get_no_fail_or_error(make) -> None:
    result = nr.check(make(), device="cpu")
    assert [c.id for c in result.checks] == [cid for cid in CHECKS if CHECKS[cid].stage in ("data", "skeleton")]
    bad = {c.id: f"{c.status}: {c.summary}" for c in result.checks if c.status not in ("pass", "warn", "skip")}
    assert not bad
