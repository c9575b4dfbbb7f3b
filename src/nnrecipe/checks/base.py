"""The check protocol: a check *measures* plain numbers, then a pure function *judges* them.

A check is a small class with an `id`, a `stage`, `Thresholds` (a dataclass of named, documented limits),
`measure(ctx) -> dict` (the torch work) and `judge(measured, thresholds) -> Verdict` (pure, testable
without torch). `applies(ctx)` returns a reason to skip, or None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from nnrecipe.results import CheckResult, Stage, Status

if TYPE_CHECKING:
    from nnrecipe.checks.context import CheckContext


@dataclass(frozen=True)
class Verdict:
    """What `judge` decides: a status, one sentence carrying the numbers, and the fix when not a pass."""

    status: Status
    summary: str
    fix: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


class CannotRun(Exception):
    """Raised by `measure` when this setup does not allow the measurement (the check becomes a `skip` with the
    reason, never an `error`): e.g. a model that cannot be widened because its forward or the user's step needs
    more than an input tensor."""


@dataclass(frozen=True)
class NoThresholds:
    """For checks whose verdict needs no tunable limit."""


class Check:
    """Base class of every check. Subclasses set `id`, `stage`, `Thresholds`, and implement the methods."""

    id: ClassVar[str]
    stage: ClassVar[Stage]
    title: ClassVar[str] = ""
    Thresholds: ClassVar[type] = NoThresholds
    #: a model check that computes the loss; skipped when the preflight found the loss cannot run
    needs_loss: ClassVar[bool] = True

    def __init__(self, thresholds: Any = None) -> None:
        self.thresholds = thresholds if thresholds is not None else self.Thresholds()

    def applies(self, ctx: CheckContext) -> str | None:
        """A reason to skip this check for this experiment, or None when it applies."""
        return None

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        raise NotImplementedError

    def judge(self, measured: Mapping[str, Any], thresholds: Any) -> Verdict:
        raise NotImplementedError

    def artifacts(self, measured: Mapping[str, Any]) -> Mapping[str, Any]:
        """In-memory material for the report's picture of this check (not part of the JSON)."""
        return measured.get("_artifacts", {})


def check_result(check_id: str, stage: Stage, measured: Mapping[str, Any], verdict: Verdict, *, seconds: float,
                 artifacts: Mapping[str, Any]) -> CheckResult:
    """The result row of a measured and judged check: the measured numbers (not the `_private` ones) and the
    verdict's own as evidence, the fix only when it did not pass."""
    evidence = {k: v for k, v in measured.items() if not k.startswith("_")}
    evidence.update(verdict.evidence)
    return CheckResult(check_id, stage, verdict.status, verdict.summary, evidence=evidence,
                       fix=verdict.fix if verdict.status != "pass" else None, seconds=seconds, artifacts=artifacts)


def error_result(check_id: str, stage: Stage, exc: Exception, *, seconds: float) -> CheckResult:
    """The row of a check that broke: its message, and the traceback in the evidence."""
    import traceback

    return CheckResult(check_id, stage, "error", f"the check itself broke: {type(exc).__name__}: {exc}",
                       evidence={"traceback": traceback.format_exc(limit=6)}, seconds=seconds)
