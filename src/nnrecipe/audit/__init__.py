"""Step 1 of the recipe, "become one with the data": sources, the one-pass profile, and `audit()`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from nnrecipe.audit.sources import AuditData
    from nnrecipe.progress import Progress
    from nnrecipe.results import RunResult

__all__ = ["audit_data"]


def audit_data(data: AuditData, *, seed: int = 0, ids: Any = None, progress: Progress | None = None) -> RunResult:
    """Run every data-stage check on data from a path (no Experiment, no model needed)."""
    from nnrecipe.audit.context import AuditContext
    from nnrecipe.checks.context import CheckContext
    from nnrecipe.results import RunResult
    from nnrecipe.runner import run_checks, select_checks

    # Data checks only read what AuditContext provides (the data, the seed and the shared cache).
    ctx = cast(CheckContext, AuditContext(data, seed=seed))
    results = run_checks(select_checks(stages=["data"], ids=ids), ctx, progress)
    return RunResult(experiment=data.name, checks=results, command="audit")
