"""What the steps of one `nnrecipe run` share: the experiment, where to write, and what earlier steps found."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnrecipe.checks.context import CheckContext
from nnrecipe.experiment import Experiment
from nnrecipe.progress import Progress
from nnrecipe.results import CheckResult, StepResult
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.journal import Journal


@dataclass
class RunState:
    experiment: Experiment
    ctx: CheckContext
    out_dir: Path | None
    progress: Progress = field(default_factory=Progress)
    force: bool = False
    checks: list[CheckResult] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    #: the model the last step settled on, trained
    model: nn.Module | None = None
    #: the model each training step ended with, by step (the squeeze table shows step 4's beside its own)
    models: dict[str, nn.Module] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    #: the training configuration the last step settled on (steps 5 and 6 start from it)
    config: TrainingConfig | None = None
    #: the finished units of work, so a rerun of the same command continues where it stopped
    journal: Journal = field(default_factory=lambda: Journal(None, {}))
    #: report callbacks for the final training: a function of the experiment giving recorders
    recorders: Any = None
    #: the experiment trained as written (steps.baseline.Baseline), trained before the first training step
    baseline: Any = None

    @property
    def device(self) -> torch.device:
        return self.ctx.device

    def path(self, *parts: str) -> Path | None:
        """A path inside the run folder (created), or None when the run keeps no folder."""
        if self.out_dir is None:
            return None
        target = self.out_dir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
