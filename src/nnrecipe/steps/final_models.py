"""The run folder's `final/`: every model step 6 squeezed out, saved as configurations and weights (no code), and
`final.json` naming the one the run chose on validation. `nnrecipe.load(run_dir)` reads them back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from nnrecipe.engine.checkpoint import atomic_write_json, save_checkpoint
from nnrecipe.experiment import Experiment
from nnrecipe.steps.config import TrainingConfig

FINAL = "final"
FORMAT = 1


def spec_source(exp: Experiment) -> str | None:
    """What rebuilds the experiment: the built-in's name or the spec file's path (set by `load_spec`)."""
    source = exp.meta.get("spec")
    return str(source) if source is not None else None


def save_model(folder: Path, name: str, *, members: Sequence[tuple[TrainingConfig, nn.Module]], exp: Experiment,
               scores: dict[str, Any] | None = None) -> Path:
    """Save a model (one member, or several making an ensemble) as `final/<name>.pt`."""
    path = folder / FINAL / f"{name}.pt"
    save_checkpoint(path, format=FORMAT, name=name, task=exp.task, experiment=exp.name, spec=spec_source(exp),
                    scores=scores or {},
                    members=[{"config": cfg.to_dict(), "state_dict": m.state_dict()} for cfg, m in members])
    return path


def choose(folder: Path, name: str, *, table: list[dict[str, Any]]) -> None:
    """Record which saved model the run chose (on validation), and the table it was chosen from."""
    atomic_write_json(folder / FINAL / "final.json", {"chosen": name, "table": table})
