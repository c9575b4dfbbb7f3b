"""The check contract: a check *measures* evidence, then a pure function *judges* it.

A check is a small class with an `id`, a `stage`, `Thresholds` (a frozen dataclass of named, documented limits),
`measure(ctx) -> Evidence` (the torch work; a frozen dataclass of what the document shows) and
`judge(evidence, thresholds) -> Verdict` (pure, testable without torch). `applies(ctx)` returns a reason to skip,
or None. `pictures(evidence)` gives the report its in-memory material: by default the evidence fields declared
with `picture()`, which never reach the JSON document.

    @dataclass(frozen=True)
    class InitLossEvidence:
        measured: float
        expected: float

    class InitLoss(ModelCheck[InitLossEvidence, InitLossThresholds]):
        def measure(self, ctx: ModelContext) -> InitLossEvidence: ...
        def judge(self, e: InitLossEvidence, t: InitLossThresholds) -> Verdict: ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from nnrecipe.checks.context import DataContext, ModelContext
from nnrecipe.results import CheckResult, Stage, Status

#: the context a check measures with, its evidence, and its thresholds
C = TypeVar("C")
E = TypeVar("E")
T = TypeVar("T")

_PICTURE, _INTERNAL = "nnrecipe.picture", "nnrecipe.internal"


@dataclass(frozen=True)
class Verdict:
    """What `judge` decides: a status, one sentence carrying the numbers, and the fix when not a pass."""

    status: Status
    summary: str
    fix: str | None = None
    #: numbers the judge derived on the way (a ratio, a z-score), shown beside the measured evidence
    evidence: Mapping[str, Any] = field(default_factory=dict)


class CannotRun(Exception):
    """Raised by `measure` when this setup does not allow the measurement (the check becomes a `skip` with the
    reason, never an `error`): e.g. a model that cannot be widened because its forward or the user's step needs
    more than an input tensor."""


@dataclass(frozen=True)
class NoThresholds:
    """For checks whose verdict needs no tunable limit."""


def picture(default: Any = None) -> Any:
    """An evidence field that holds material for the report's picture (arrays, samples): never in the JSON."""
    return field(default=default, repr=False, compare=False, metadata={_PICTURE: True})


def internal(default: Any = None) -> Any:
    """An evidence field the judge reads but the document does not show (a long raw series, say)."""
    return field(default=default, repr=False, metadata={_INTERNAL: True})


def document_evidence(evidence: Any) -> dict[str, Any]:
    """The evidence as the result document shows it: every field but pictures and internal ones; an optional
    field (default None) that was not measured is left out rather than written as null."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(evidence):
        if f.metadata.get(_PICTURE) or f.metadata.get(_INTERNAL):
            continue
        value = getattr(evidence, f.name)
        if value is None and f.default is None:
            continue
        out[f.name] = value
    return out


def picture_fields(evidence: Any) -> dict[str, Any]:
    """The evidence fields declared with `picture()` that hold something."""
    return {f.name: getattr(evidence, f.name) for f in dataclasses.fields(evidence)
            if f.metadata.get(_PICTURE) and getattr(evidence, f.name) is not None}


class Check(Generic[C, E, T]):
    """Base class of every check: `Check[Context, Evidence, Thresholds]`. Subclass `DataCheck` or `ModelCheck`."""

    id: ClassVar[str]
    stage: ClassVar[Stage]
    title: ClassVar[str] = ""
    Thresholds: ClassVar[type] = NoThresholds
    #: a model check that computes the loss; skipped when the preflight found the loss cannot run
    needs_loss: ClassVar[bool] = True

    def __init__(self, thresholds: T | None = None) -> None:
        self.thresholds: T = thresholds if thresholds is not None else self.Thresholds()

    def applies(self, ctx: C) -> str | None:
        """A reason to skip this check for this experiment, or None when it applies."""
        return None

    def measure(self, ctx: C) -> E:
        raise NotImplementedError

    def judge(self, evidence: E, thresholds: T) -> Verdict:
        raise NotImplementedError

    def pictures(self, evidence: E) -> Mapping[str, Any]:
        """In-memory material for the report's picture of this check (never part of the JSON document)."""
        return picture_fields(evidence)


class DataCheck(Check[DataContext, E, T]):
    """A step-1 check: it reads the data only (an experiment's splits, or a path given to `nnrecipe audit`)."""

    needs_loss = False


class ModelCheck(Check[ModelContext, E, T]):
    """A step-2 check: it builds fresh models from the experiment's factory and trains or probes them."""


def check_result(check_id: str, stage: Stage, evidence: Any, verdict: Verdict, *, seconds: float) -> CheckResult:
    """The result row of a measured and judged check: the documented evidence and the verdict's own numbers, the
    fix only when it did not pass (its pictures' material travels beside it, never in it)."""
    shown = document_evidence(evidence)
    shown.update(verdict.evidence)
    return CheckResult(check_id, stage, verdict.status, verdict.summary, evidence=shown,
                       fix=verdict.fix if verdict.status != "pass" else None, seconds=seconds)


def error_result(check_id: str, stage: Stage, exc: Exception, *, seconds: float) -> CheckResult:
    """The row of a check that broke: its message, and the traceback in the evidence."""
    import traceback

    return CheckResult(check_id, stage, "error", f"the check itself broke: {type(exc).__name__}: {exc}",
                       evidence={"traceback": traceback.format_exc(limit=6)}, seconds=seconds)
