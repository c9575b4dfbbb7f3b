"""How long-running library code tells a front end what it is doing, without printing anything itself.

The library calls these hooks; the CLI passes a subclass that draws (see `nnrecipe.report.terminal`).
`Callback`, the hooks into the training loop (`nnrecipe.engine.loop.fit`), lives here rather than in the engine
so that a `Progress` can hand training one without this, the lowest layer, importing the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from nnrecipe.results import CheckResult, StepResult


class Callback:
    """Hooks into `fit`. Return True from `on_epoch_end` to stop training (early stopping).

    `record` is the engine's `EpochRecord` and `history` its `History`; they are defined in the engine (above this
    module, and their import path is part of the checkpoints that hold them), so they are typed `Any` here and each
    subclass annotates them with the engine's classes.
    """

    def on_train_start(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None: ...

    def on_step_end(self, step: int, loss: torch.Tensor, batch: tuple[torch.Tensor, torch.Tensor]) -> None: ...

    def on_epoch_end(self, record: Any, model: nn.Module) -> bool | None:
        return None

    def on_train_end(self, history: Any) -> None: ...


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
