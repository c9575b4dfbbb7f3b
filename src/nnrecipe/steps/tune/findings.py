"""What tune takes from step 4 (regularize): what mattered (`RegularizeFindings`, handed over by `nnrecipe run`,
or read back from a run folder's result.json by `nnrecipe tune`), filtered to what the search space can vary."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from nnrecipe.experiment import Experiment
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.regularize import RegularizeThresholds, what_mattered
from nnrecipe.steps.training import selection_metric
from nnrecipe.steps.tune.space import KNOB, SEARCHABLE

#: step 4's noise margin: a change smaller than this did not move the validation score
NOISE = RegularizeThresholds()


def searchable(mattered: Mapping[str, str]) -> dict[str, str]:
    """Of what step 4 found to matter, what the search space can vary: the searchable configuration fields and
    the experiment's own knobs (`knob:NAME`); lr and weight decay are always searched."""
    return {name: why for name, why in mattered.items() if name in SEARCHABLE or name.startswith(KNOB)}


def regularize_rows(steps: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]] | None:
    """Step 4's table of changes tried (its "tried" rows) in a result document's steps, or None without one."""
    for step in steps:
        details = step.get("details", {})
        if step.get("step") == "regularize" and "tried" in details:
            return list(details["tried"])
    return None


def settled_in(folder: Path | None, exp: Experiment) -> tuple[TrainingConfig, dict[str, str] | None]:
    """Step 4's configuration and what it found to matter, from a run folder (`nnrecipe run` left them), else
    plain defaults and None (tune then searches every knob that applies)."""
    import json

    base = TrainingConfig(batch_size=exp.batch_size, epochs=exp.epochs)
    mattered = None
    if folder is not None and (folder / "config.json").exists():
        base = TrainingConfig.from_dict(json.loads((folder / "config.json").read_text())["config"])
    if folder is not None and (folder / "result.json").exists():
        tried = regularize_rows(json.loads((folder / "result.json").read_text()).get("steps", []))
        if tried is not None:
            metric, higher = selection_metric(exp)
            mattered = what_mattered(tried, metric=metric, higher_is_better=higher, thresholds=NOISE)
    return base, mattered
