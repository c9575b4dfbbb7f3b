"""Exactly what goes into the net: the input tensor of one real training batch, caught at the model's door.

The recipe: "the unambiguously correct place to visualize your data is immediately before your
y_hat = model(x)". A forward pre-hook on the model sees the tensor after every dataset transform,
augmentation and collation, and after anything a custom `train_step` does before calling the model.
The hook fires once, on the first forward call in train mode (evaluation runs in eval mode), then removes
itself.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nnrecipe.engine.data import Batch
from nnrecipe.engine.observe import Recorder
from nnrecipe.experiment import Experiment

#: samples kept for the picture; the statistics are over the whole batch
KEEP = 32


def batch_stats(x: torch.Tensor) -> dict[str, Any]:
    """Shape, dtype and the moments of a batch, over all its values."""
    values = x.detach().float()
    finite = values[torch.isfinite(values)]
    stats: dict[str, Any] = {"shape": list(x.shape), "dtype": str(x.dtype).replace("torch.", "")}
    if finite.numel():
        stats.update(mean=float(finite.mean()), std=float(finite.std()) if finite.numel() > 1 else 0.0,
                     min=float(finite.min()), max=float(finite.max()))
    stats["non_finite"] = int(values.numel() - finite.numel())
    return stats


class InputCapture(Recorder):
    key = "input_batch"

    def __init__(self, exp: Experiment) -> None:
        self.meta = {"kind": exp.kind, "vocab": exp.vocab, "task": exp.task,
                     "class_names": list(exp.class_names) if exp.class_names is not None else None}
        self.handle: Any = None
        self.captured: dict[str, Any] | None = None
        self.targets: torch.Tensor | None = None

    def on_train_start(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.handle = model.register_forward_pre_hook(self._hook)

    def _hook(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if not module.training or self.captured is not None:
            return
        x = args[0] if args else None
        if isinstance(x, torch.Tensor):
            self.captured = {"x": x.detach()[:KEEP].cpu().numpy(), "stats": batch_stats(x)}
        else:
            self.captured = {"note": f"the model's first argument is a {type(x).__name__}, not a tensor"}
        self._remove()

    def on_step_end(self, step: int, loss: torch.Tensor, batch: Batch) -> None:
        # The targets of the batch the hook saw: the hook fires inside the first step.
        if self.captured is not None and self.targets is None:
            self.targets = batch[1].detach()[:KEEP].cpu()

    def on_train_end(self, history: Any) -> None:
        self._remove()

    def _remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()
            self.handle = None

    def record(self) -> dict[str, Any] | None:
        if self.captured is None:
            return None
        y = self.targets.numpy() if self.targets is not None else None
        return {**self.meta, **self.captured, "y": y}
