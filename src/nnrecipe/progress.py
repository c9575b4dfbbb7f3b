"""How long-running library code tells a front end what it is doing, without printing anything itself.

The library calls these hooks; the CLI passes a subclass that draws (see `nnrecipe.report.terminal`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nnrecipe.engine.loop import Callback
    from nnrecipe.results import CheckResult, StepResult


class Progress:
    """The silent default: every hook does nothing."""

    def check_started(self, check_id: str) -> None: ...

    def check_done(self, result: CheckResult) -> None: ...

    def step_started(self, step: str, description: str) -> None: ...

    def step_done(self, result: StepResult) -> None: ...

    def training(self, label: str, epochs: int) -> Callback | None:
        """A training callback that shows progress over `epochs`, or None."""
        return None

    def note(self, message: str) -> None:
        """A one-line remark about what is happening (resuming, a gate forced open)."""
