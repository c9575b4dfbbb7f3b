"""Judging the online checks while the loop runs, and logging what they find the moment they find it.

A check is judged when the values are read (sampled steps and every `READ_EVERY` steps), within
`JUDGE_BUDGET` of the loop's time; a non-finite loss or gradient, or a broken input, is judged the moment it is
read. A warn or fail goes to the logger "nnrecipe.watch" once per check and status. The final verdicts are
judged once more at the end, on everything that was seen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from nnrecipe.results import CheckResult
from nnrecipe.watching.checks.base import WatchCheck, run_watch_check, run_watch_check_pictured
from nnrecipe.watching.checks.registry import WATCH_CHECKS
from nnrecipe.watching.record import WatchRecord

logger = logging.getLogger("nnrecipe.watch")

#: judging every check during training may take at most this share of the loop's time: a judgement is skipped
#: while the last one cost more than this share of the time since (a NaN is still judged the moment it is read)
JUDGE_BUDGET = 0.002


class Judge:
    """The online checks of one watched loop, judged on its record."""

    def __init__(self, record: WatchRecord) -> None:
        self.record = record
        self.checks: list[WatchCheck] = [cls() for cls in WATCH_CHECKS.values()]
        self._logged: dict[str, str] = {}
        self._judged_at, self._judge_seconds = 0.0, 0.0

    def now(self, check_id: str, step: int) -> None:
        """Judge one check at once (a NaN, a broken input), whatever the budget."""
        check = next(c for c in self.checks if c.id == check_id)
        self.log_finding(run_watch_check(check, self.record), step)

    def online(self, step: int) -> None:
        """Judge every check due by this step, unless the last judgement spent the budget."""
        started = time.perf_counter()
        if (started - self._judged_at) * JUDGE_BUDGET < self._judge_seconds:
            return
        for check in self.checks:
            if step >= check.online_after:
                self.log_finding(run_watch_check(check, self.record), step)
        self._judged_at = time.perf_counter()
        self._judge_seconds = self._judged_at - started

    def final(self, step: int) -> tuple[tuple[CheckResult, ...], dict[str, Mapping[str, Any]]]:
        """Every check on everything seen: the verdicts the result document keeps, and beside them their
        pictures' material by check id."""
        judged = [run_watch_check_pictured(check, self.record) for check in self.checks]
        for result, _ in judged:
            self.log_finding(result, step)
        return tuple(result for result, _ in judged), {result.id: shown for result, shown in judged if shown}

    def log_finding(self, result: CheckResult, step: int) -> None:
        """Log a warn or fail the first time a check reaches it (once per check and status)."""
        if result.status not in ("warn", "fail", "error") or self._logged.get(result.id) == result.status:
            return
        self._logged[result.id] = result.status
        level = logging.WARNING if result.status == "warn" else logging.ERROR
        fix = f" Fix: {result.fix}" if result.fix else ""
        logger.log(level, "%s %s at step %d: %s.%s", result.id, result.status, step, result.summary, fix,
                   extra={"nnrecipe_check": result.id, "nnrecipe_status": result.status, "nnrecipe_step": step})


def counts(checks: tuple[CheckResult, ...]) -> str:
    """The verdicts counted ("2 fail, 1 warn, 5 pass"), for the closing log line."""
    tally = {s: sum(c.status == s for c in checks) for s in ("fail", "warn", "error", "pass", "skip")}
    return ", ".join(f"{n} {s}" for s, n in tally.items() if n)
