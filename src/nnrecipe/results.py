"""Results are data: frozen dataclasses that checks and steps return, and the JSON document they become.

Only `nnrecipe.report` and the CLI turn these into something a person looks at.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "warn", "fail", "skip", "error"]
#: the recipe's six steps, and "training": the stage of the checks `nr.watch` runs on a loop it observes
Stage = Literal["data", "skeleton", "overfit", "regularize", "tune", "squeeze", "training"]
STAGES: tuple[Stage, ...] = ("data", "skeleton", "overfit", "regularize", "tune", "squeeze")
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "skip", "error")


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict. `evidence` holds the numbers the verdict rests on (JSON-serializable).

    The material of the check's picture (arrays, samples) is not part of the result: it travels beside it, in
    `Pictures.checks`.
    """

    id: str
    stage: Stage
    status: Status
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    fix: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "stage": self.stage,
            "status": self.status,
            "summary": self.summary,
            "evidence": jsonable(self.evidence),
        }
        if self.fix:
            out["fix"] = self.fix
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass(frozen=True)
class StepResult:
    """One recipe step's outcome in `nnrecipe run`.

    `scores` are the scores of the model the run held when a training step ended (split -> metric -> value),
    so the gain of each step can be read off; the test split is scored for that table only, never to choose.
    """

    step: Stage
    status: Status
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    #: wall time of the step in this invocation (work reused from an interrupted run of it costs nothing here)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "status": self.status, "summary": self.summary,
                               "seconds": round(self.seconds, 3)}
        if self.scores:
            out["scores"] = jsonable(self.scores)
        if self.details:
            out["details"] = jsonable(self.details)
        return out


@dataclass(frozen=True)
class RunResult:
    """Everything one command produced: the checks, and for `run` the steps and final scores."""

    experiment: str
    checks: tuple[CheckResult, ...] = ()
    steps: tuple[StepResult, ...] = ()
    scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    command: str = "check"
    #: `run`: the experiment trained exactly as written, {"seconds": ..., "scores": {"val": ..., "test": ...}}
    baseline: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks) or any(s.status == "fail" for s in self.steps)

    @property
    def errored(self) -> bool:
        """A check broke: whatever else passed, the setup was not fully verified."""
        return any(c.status == "error" for c in self.checks)

    def check(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def _repr_html_(self) -> str:
        """Jupyter shows a result as the run folder's report.html, without its pictures (a `Report` has them)."""
        from nnrecipe.report.html import render_html

        return render_html(self, Pictures())

    def to_dict(self) -> dict[str, Any]:
        from nnrecipe import __version__

        out: dict[str, Any] = {
            "nnrecipe": __version__,
            "experiment": self.experiment,
            "checks": [c.to_dict() for c in self.checks],
        }
        if self.command in ("run", "tune"):  # `tune` reports its one step
            out["steps"] = [s.to_dict() for s in self.steps]
            out["scores"] = jsonable(self.scores)
        if self.baseline:
            out["baseline"] = jsonable(self.baseline)
        return out


@dataclass(frozen=True)
class Pictures:
    """What a report draws beside a RunResult: in-memory material (arrays, samples, training histories, the data
    view) that never enters the result or its JSON document. The checks' and steps' material by id, and the run's
    own (the final model's curves, the error analysis, the look at the data) by figure key."""

    checks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    steps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    run: Mapping[str, Any] = field(default_factory=dict)

    def check(self, check_id: str) -> Mapping[str, Any]:
        return self.checks.get(check_id, {})

    def step(self, step: str) -> Mapping[str, Any]:
        return self.steps.get(step, {})


#: a report without pictures (the page of a result alone, a result read back from JSON)
NO_PICTURES = Pictures()


@dataclass(frozen=True)
class Report:
    """What a command leaves for its report: the result (the document's data) and the pictures' material."""

    result: RunResult
    pictures: Pictures = field(default_factory=Pictures)

    def _repr_html_(self) -> str:
        """Jupyter shows it as the same self-contained page as the run folder's report.html."""
        from nnrecipe.report.html import render_html

        return render_html(self.result, self.pictures)


def jsonable(value: Any) -> Any:
    """Plain JSON types from numpy/torch scalars, tuples and nested mappings; NaN/Inf become strings."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "tolist"):  # numpy / torch
        return jsonable(value.tolist())
    if hasattr(value, "item"):
        return jsonable(value.item())
    return str(value)
