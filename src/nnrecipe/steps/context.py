"""What the steps of one `nnrecipe run` are given, and what each hands back.

Each training step is a function of typed inputs to a typed outcome: it reads the `RunContext` (the experiment,
where to write, the journal of finished work; nothing in it changes while the steps run) and what the steps
before it settled on (`Settled`) or found (their `findings`), and returns a `StepOutcome`. The pipeline passes
outcomes on explicitly; no step writes into a shared object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import torch
from torch import nn

from nnrecipe.checks.context import CheckContext
from nnrecipe.experiment import Experiment
from nnrecipe.progress import Progress
from nnrecipe.results import StepResult
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.journal import Journal

if TYPE_CHECKING:
    from nnrecipe.steps.pool import UnitPool
    from nnrecipe.steps.units import UnitSource

#: a step's findings: a frozen dataclass the steps after it read as data
F = TypeVar("F")
#: the report's training recorders for an experiment (each with a `key` and a `record()`), or none
Recorders = Callable[[Experiment], Sequence[Any]]


def no_recorders(exp: Experiment) -> Sequence[Any]:
    return ()


@dataclass(frozen=True)
class RunContext:
    """The run every step works in: the experiment and its check context, the run folder (or None), the progress
    display, the journal of finished units of work, and the report's recorders for step 4's trainings.

    `pool` holds the run's worker processes (None: everything trains in this process); `units`, set only while a
    step's units are planned ahead for the workers (`steps.speculation`), is where `run_unit` takes them from."""

    experiment: Experiment
    ctx: CheckContext
    out_dir: Path | None = None
    progress: Progress = field(default_factory=Progress)
    journal: Journal = field(default_factory=lambda: Journal(None, {}))
    recorders: Recorders = no_recorders
    pool: UnitPool | None = None
    units: UnitSource | None = None

    @property
    def device(self) -> torch.device:
        return self.ctx.device

    @property
    def budget(self) -> str:
        return self.ctx.budget

    def path(self, *parts: str) -> Path | None:
        """A path inside the run folder (its parent created), or None when the run keeps no folder."""
        if self.out_dir is None:
            return None
        target = self.out_dir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target


@dataclass(frozen=True)
class Settled:
    """What the steps so far settled on: the trained model and the configuration that describes it (None before
    step 3, or when step 3 found nothing and `--force` went on)."""

    model: nn.Module | None = None
    config: TrainingConfig | None = None


@dataclass(frozen=True)
class StepOutcome(Generic[F]):
    """What a step hands back: its result row, the model and configuration it settled on (None: it settled on
    nothing new), its findings for the steps after it, and the material of its pictures (never in the result)."""

    result: StepResult
    model: nn.Module | None = None
    config: TrainingConfig | None = None
    findings: F | None = None
    pictures: Mapping[str, Any] = field(default_factory=dict)
    #: what the report's recorders recorded while the settled model trained (its loss curves, its inputs and
    #: layers): the run's pictures, should this model be the run's final one
    recordings: Mapping[str, Any] = field(default_factory=dict)

    def settled(self, before: Settled) -> Settled:
        """What the run holds after this step: its model and its configuration, each where it settled on one."""
        return Settled(self.model if self.model is not None else before.model,
                       self.config if self.config is not None else before.config)
