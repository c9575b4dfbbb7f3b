"""The audit's context: the data to audit and a cache, so the one streaming profile is built once per run.

Data checks take either the runner's `CheckContext` (an Experiment's splits) or an `AuditContext` built from a
data path (`nnrecipe audit PATH`, no model needed); `audit_context` gives them the same view of both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nnrecipe.audit.sources import AuditData

T = TypeVar("T")


@dataclass
class AuditContext:
    data: AuditData
    seed: int = 0
    #: as on CheckContext: why model checks cannot run (the runner reads it); a data audit never blocks
    blocked: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def task(self) -> str:
        return self.data.task

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]  # type: ignore[no-any-return]


def audit_context(ctx: Any) -> AuditContext:
    """The audit view of a check context: itself for a path audit, the experiment's splits otherwise."""
    if isinstance(ctx, AuditContext):
        return ctx
    from nnrecipe.audit.sources import from_experiment

    return ctx.shared("audit:context", lambda: AuditContext(from_experiment(ctx.experiment), seed=int(ctx.seed)))  # type: ignore[no-any-return]


def profile_of(ctx: Any) -> Any:
    """The streaming profile of the context's data, built on first use and shared by every data check."""
    from nnrecipe.audit.profile import build_profile

    actx = audit_context(ctx)
    return actx.shared("audit:profile", lambda: build_profile(actx.data, seed=actx.seed))
