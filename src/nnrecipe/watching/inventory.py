"""What the watcher follows in the model, taken once when watching starts: the trainable parameters, the few
parameters and layers the report's per-layer statistics draw, the activations read for dead and saturated
units, and the first layer's weights before and after training."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nnrecipe.engine.observe.layers import FIRST_LAYER_UNITS, evenly, first_layer
from nnrecipe.watching import probes
from nnrecipe.watching.record import ParamsSeen

#: layers and parameters followed for the report's per-layer statistics (evenly chosen through the model)
MAX_LAYERS = 24
#: activation modules looked at for dead and saturated units
MAX_UNIT_LAYERS = 48


class Inventory:
    """The model's parts the watcher follows. Holds the user's parameters and modules until `forget`."""

    def __init__(self) -> None:
        self.trainable: list[tuple[str, nn.Parameter]] = []
        self.followed: dict[str, nn.Parameter] = {}
        #: (label, module, draw its output statistics, read its units)
        self.layers: list[tuple[str, nn.Module, bool, bool]] = []
        self.first_layer: dict[str, Any] | None = None

    def take(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, params: ParamsSeen) -> None:
        """Look the model over, and note in `params` what is trainable, frozen and outside the optimizer."""
        named = list(model.named_parameters())
        self.trainable = [(n, p) for n, p in named if p.requires_grad]
        params.trainable = [n for n, _ in self.trainable]
        params.frozen = [n for n, p in named if not p.requires_grad]
        if optimizer is not None:
            held = {id(p) for group in optimizer.param_groups for p in group["params"]}
            params.not_in_optimizer = [n for n, p in self.trainable if id(p) not in held]
        self.followed = dict(evenly(self.trainable, MAX_LAYERS))
        self.layers = _layers(model)
        layer = first_layer(model)
        if layer is not None:
            self.first_layer = {"type": type(layer).__name__, "init": first_weights(layer)}

    def final_weights(self, model: nn.Module) -> None:
        """The first layer's weights once the training is over."""
        if self.first_layer is not None:
            layer = first_layer(model)
            if layer is not None:
                self.first_layer["final"] = first_weights(layer)

    def forget(self) -> None:
        """Drop every reference to the user's model (the first layer's weights are copies, and stay)."""
        self.trainable, self.followed, self.layers = [], {}, []


def _layers(model: nn.Module) -> list[tuple[str, nn.Module, bool, bool]]:
    """Layers whose outputs the report draws (evenly through the model), and activations to read units from."""
    leaves = [m for n, m in model.named_modules() if n and not list(m.children()) and not isinstance(m, probes.LAYOUT)]
    drawn = {id(m) for m in evenly(leaves, MAX_LAYERS)}
    units = {id(m) for m in [m for m in model.modules() if probes.unit_kind(m)][:MAX_UNIT_LAYERS]}
    return [(f"{n} ({type(m).__name__})", m, id(m) in drawn, id(m) in units)
            for n, m in model.named_modules() if id(m) in drawn | units]


def first_weights(layer: nn.Module) -> Any:
    """The first layer's weights (its first units), for the report's before/after picture."""
    weight = layer.weight
    assert isinstance(weight, torch.Tensor)  # every first-layer type has a weight tensor
    return weight.detach()[:FIRST_LAYER_UNITS].float().cpu().numpy().copy()
