"""Inside the net while it trains: activation and gradient statistics per layer, and the first layer's weights.

Forward hooks on the model's leaf modules record each layer's output (mean, std, share of exact zeros,
which is where dead ReLUs show) on a sample of training steps: 0, 1, 3, 7, 15, ... (2^k - 1), dense early
when things change fast, sparse later. On those steps the gradient of every parameter and the size of the
step the optimizer actually took (|delta w| / |w|, the update-to-weight ratio; about 1e-3 is healthy) are
read after the optimizer step. The first layer's weights are kept at initialization and at the end
("visualize the network's first-layer weights and ensure you get nice edges that make sense").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from nnrecipe.engine.data import Batch
from nnrecipe.engine.loop import History
from nnrecipe.engine.observe import Recorder

#: at most this many layers and parameters are followed (evenly chosen through the model)
MAX_LAYERS = 24
#: at most this many sampled steps are recorded
MAX_RECORDS = 14
#: values kept per layer for histograms (TensorBoard)
HIST_VALUES = 2048
#: output units of the first layer kept for its picture
FIRST_LAYER_UNITS = 64
FIRST_LAYER_TYPES = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.Embedding)


def is_sampled(step: int) -> bool:
    """Steps 0, 1, 3, 7, 15, ...: step + 1 is a power of two."""
    return step >= 0 and (step + 1) & step == 0


def evenly(items: list[Any], k: int) -> list[Any]:
    if len(items) <= k:
        return items
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def thin(t: torch.Tensor, k: int) -> np.ndarray:
    """About k values of a tensor taken at a regular stride (no random draw)."""
    flat = t.detach().float().flatten()
    return flat[:: max(1, flat.numel() // k)][:k].cpu().numpy()


def first_tensor(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]  # e.g. an LSTM's (output, state)
    return None


def first_layer(model: nn.Module) -> nn.Module | None:
    return next((m for m in model.modules() if isinstance(m, FIRST_LAYER_TYPES)), None)


class LayerStats(Recorder):
    key = "layer_stats"

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.activations: dict[str, dict[str, float]] = {}
        self.act_values: dict[str, np.ndarray] = {}
        self.handles: list[Any] = []
        self.params: dict[str, nn.Parameter] = {}
        self.before: dict[str, torch.Tensor] = {}
        self.active = False
        self.model: nn.Module | None = None
        self.first: dict[str, Any] | None = None
        self.param_values: dict[str, np.ndarray] = {}

    # -- training hooks
    def on_train_start(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model = model
        leaves = [(name, m) for name, m in model.named_modules() if not list(m.children()) and name]
        for name, module in evenly(leaves, MAX_LAYERS):
            label = f"{name} ({type(module).__name__})"  # "0 (Linear)": a Sequential's indices alone say little
            self.handles.append(module.register_forward_hook(self._forward_hook(label)))
        trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.params = dict(evenly(trainable, MAX_LAYERS))
        layer = first_layer(model)
        if layer is not None:
            self.first = {"type": type(layer).__name__, "init": self._first_weights(layer)}
        self._arm(0)

    def _forward_hook(self, name: str) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            out = first_tensor(output)
            if not self.active or not module.training or out is None or not out.is_floating_point():
                return
            with torch.no_grad():
                values = out.detach().float()
                self.activations[name] = {"mean": float(values.mean()), "std": float(values.std()),
                                          "zero_fraction": float((values == 0).float().mean())}
                self.act_values[name] = thin(values, HIST_VALUES)

        return hook

    def on_step_end(self, step: int, loss: torch.Tensor, batch: Batch) -> None:
        if self.active:
            self.records.append({"step": step, "activations": self.activations, "gradients": self._gradients()})
            self.activations, self.before = {}, {}
        self._arm(step + 1)

    def on_train_end(self, history: History) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles, self.active = [], False
        if self.model is not None:
            layer = first_layer(self.model)
            if layer is not None and self.first is not None:
                self.first["final"] = self._first_weights(layer)
            self.param_values = {n: thin(p, HIST_VALUES * 2) for n, p in self.params.items()}
        self.model = None  # do not keep the model alive through the result

    # -- helpers
    def _arm(self, step: int) -> None:
        """Record the coming step when it is a sampled one; keep the weights to measure its update."""
        self.active = is_sampled(step) and len(self.records) < MAX_RECORDS
        if self.active:
            self.before = {n: p.detach().clone() for n, p in self.params.items()}

    @torch.no_grad()
    def _gradients(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for name, p in self.params.items():
            row: dict[str, float] = {"weight_std": float(p.float().std()) if p.numel() > 1 else float(p.abs().mean())}
            if p.grad is not None:
                g = p.grad.float()
                row["grad_std"] = float(g.std()) if g.numel() > 1 else float(g.abs().mean())
                row["grad_norm"] = float(g.norm())
            if name in self.before:
                delta = (p - self.before[name]).float().norm()
                row["update_ratio"] = float(delta / p.float().norm().clamp_min(1e-12))
            out[name] = row
        return out

    @staticmethod
    def _first_weights(layer: nn.Module) -> np.ndarray:
        weight = layer.weight
        assert isinstance(weight, torch.Tensor)  # every FIRST_LAYER_TYPES has a weight tensor
        weight = weight.detach()
        return weight[:FIRST_LAYER_UNITS].float().cpu().numpy().copy()

    def record(self) -> dict[str, Any] | None:
        if not self.records and self.first is None:
            return None
        return {"records": self.records, "activation_values": self.act_values,
                "parameter_values": self.param_values, "first_layer": self.first}
