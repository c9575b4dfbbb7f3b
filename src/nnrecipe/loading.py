"""The final model of a run folder, saved by step 6 and loaded back by `nnrecipe.load(run_dir)`.

`final/<name>.pt` holds one file per squeezed model (the ensemble, the distilled model, the longer training,
the best single model) and `final/final.json` says which one the run chose on validation. Each member is
saved as its `TrainingConfig` and its weights, nothing else: loading never unpickles code. The architecture is
rebuilt from the spec the run was started with (a built-in's name, or a user's spec file: its path is stored,
so that file must still be there; `load(..., spec=...)` points elsewhere, or passes the `Experiment` itself),
and the weights are loaded into it as data only (`weights_only`); a tampered file is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnrecipe.engine.checkpoint import UnreadableFile, load_checkpoint
from nnrecipe.engine.ensemble import Ensemble
from nnrecipe.engine.outputs import forward
from nnrecipe.errors import UsageError, did_you_mean
from nnrecipe.experiment import Experiment
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.final_models import FINAL


@dataclass
class LoadedModel:
    """A run's final model, ready for `predict`. `model` is the one module (an `Ensemble` for an ensemble)."""

    model: nn.Module
    members: list[nn.Module]
    configs: list[TrainingConfig]
    task: str
    name: str
    device: torch.device

    @torch.no_grad()
    def predict(self, inputs: Any, *, batch_size: int = 512) -> torch.Tensor:
        """Class probabilities (B, C) for classification, (B, T, V) for sequences; the outputs for regression.

        `inputs` is a batch tensor, or a Dataset of (input, target) pairs (the targets are ignored). The model
        is used in eval mode and left in the mode it was in.
        """
        from nnrecipe.engine.loop import mode, predict

        if isinstance(inputs, torch.Tensor):
            with mode(self.model, False):
                outputs = torch.cat([forward(self.model, chunk.to(self.device)).float()
                                     for chunk in inputs.split(batch_size)])
        else:
            outputs, _ = predict(self.model, inputs, device=self.device, batch_size=batch_size)
        if self.task == "regression":
            return outputs
        if outputs.dim() == 1 or outputs.shape[-1] == 1:  # one binary logit: probabilities of classes 0 and 1
            p1 = torch.sigmoid(outputs.reshape(len(outputs)))
            return torch.stack([1 - p1, p1], dim=-1)
        return torch.softmax(outputs, dim=-1)


def load(run_dir: str | Path, *, which: str | None = None, spec: str | Experiment | None = None,
         device: str | torch.device = "cpu") -> LoadedModel:
    """The model a run chose (or `which`: "ensemble", "distilled", "longer", "best"), ready for `predict`.

    The architecture is rebuilt from `spec` (default: the spec the run was started with: a built-in's name, or
    the spec file's path, which must still exist; or an `Experiment`), and the saved weights loaded into it.
    """
    final = Path(run_dir) / FINAL
    chosen_file = final / "final.json"
    if not chosen_file.exists():
        raise UsageError(f"load: expected a run folder with {FINAL}/final.json (written by step 6 of `nnrecipe run`), "
                         f"but {str(run_dir)!r} has none")
    available = sorted(p.stem for p in final.glob("*.pt"))
    name = which or json.loads(chosen_file.read_text())["chosen"]
    if name not in available:
        raise UsageError(f"load: expected one of {available}, but got {name!r}{did_you_mean(name, available)}")
    try:
        saved = load_checkpoint(final / f"{name}.pt")
    except UnreadableFile as exc:
        raise UsageError(f"load: refusing the model file: {exc}") from exc
    target = torch.device(device)
    configs = [TrainingConfig.from_dict(m["config"]) for m in saved["members"]]
    members = _rebuild(saved, spec=spec)
    members = [m.to(target).eval() for m in members]
    model = members[0] if len(members) == 1 else Ensemble(members, task=saved["task"]).to(target).eval()
    return LoadedModel(model=model, members=members, configs=configs, task=saved["task"], name=name, device=target)


def _rebuild(saved: dict[str, Any], *, spec: str | Experiment | None) -> list[nn.Module]:
    from nnrecipe.steps.training import model_factory

    exp = spec if isinstance(spec, Experiment) else _experiment(spec or saved.get("spec"))
    members: list[nn.Module] = []
    for record in saved["members"]:
        module = model_factory(exp, TrainingConfig.from_dict(record["config"]))()
        module.load_state_dict(record["state_dict"])
        members.append(module)
    return members


def _experiment(spec: str | None) -> Experiment:
    from nnrecipe.spec import load_spec

    if spec is None:
        raise UsageError("load: the run recorded no spec to rebuild the model from; pass spec='path/to/spec.py' "
                         "(the spec the run was made with) or spec=experiment")
    return load_spec(spec)
