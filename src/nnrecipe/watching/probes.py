"""The torch side of watching: what a hook computes from the tensors it sees, reduced to plain numbers.

Everything here runs on sampled steps only (the watcher decides which), so reading a number off the device
here is allowed; on every other step the watcher keeps device tensors and reads them in chunks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

#: activation modules whose units can be stuck at their floor (dead), and each one's floor test
DYING: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.ELU, nn.SELU, nn.CELU)
#: squashing activations and their bounds: a unit pinned near a bound passes (almost) no gradient
SQUASHING: dict[type[nn.Module], tuple[float, float]] = {nn.Tanh: (-1.0, 1.0), nn.Sigmoid: (0.0, 1.0),
                                                          nn.Hardtanh: (-1.0, 1.0)}
#: a squashing unit is saturated when it sits within this share of its range from a bound ...
SATURATION_MARGIN = 0.03
#: ... on more than this share of the batch
SATURATED_ON = 0.95
#: modules that only move values around: their output says nothing a neighbouring layer's does not
LAYOUT: tuple[type[nn.Module], ...] = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
                                       nn.Dropout3d, nn.AlphaDropout)
#: the keys a model's input goes by when it is called with keyword arguments (Hugging Face models)
INPUT_KEYS = ("input_ids", "pixel_values", "input_values", "inputs_embeds", "x", "input", "inputs")
#: samples of the first input batch kept for the report's picture
KEEP = 32
#: statistics of a large tensor (a weight, its update, an activation) are taken on a fixed stride of at most this
#: many of its entries: a billion-parameter model is not copied whole to measure how much a step moved it
MAX_ENTRIES = 1 << 20
#: per-feature statistics are kept for inputs with at most this many features (or channels)
MAX_FEATURES = 4096


def first_tensor(value: Any) -> torch.Tensor | None:
    """The tensor in an output or a batch: itself, the first of a tuple/list, or a known key of a dict."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((v for v in value if isinstance(v, torch.Tensor)), None)
    if isinstance(value, Mapping):
        for key in INPUT_KEYS:
            if isinstance(value.get(key), torch.Tensor):
                return value[key]  # type: ignore[no-any-return]
        return next((v for v in value.values() if isinstance(v, torch.Tensor)), None)
    return None


def model_input(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """What enters the net in a forward call: the first positional tensor, else the input keyword."""
    if args:
        found = first_tensor(args[0])
        if found is not None:
            return found
    return first_tensor(dict(kwargs)) if kwargs else None


def flat_sample(t: torch.Tensor) -> torch.Tensor:
    """The tensor flattened, or a fixed stride through it of at most `MAX_ENTRIES` entries (a view: no copy)."""
    flat = t.detach().reshape(-1)
    return flat[:: -(-flat.numel() // MAX_ENTRIES)] if flat.numel() > MAX_ENTRIES else flat


def moments(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of a flat float tensor as 0-d tensors on its device, from a sum and a dot
    product of the values shifted by their first (a few times faster on a CPU than `torch.std_mean`, and the
    shift keeps a large mean from cancelling the spread away)."""
    n = values.numel()
    shifted = values - values[0]
    total, squares = shifted.sum(), torch.dot(shifted, shifted)
    var = ((squares - total * total / n) / max(n - 1, 1)).clamp_min(0)
    return values[0] + total / n, var.sqrt()


@torch.no_grad()
def input_stats(x: torch.Tensor, *, per_feature: bool = False) -> dict[str, Any]:
    """Shape, dtype and moments of one input batch, over its finite values; with `per_feature`, also the spread
    per column of a table or per channel of an image batch."""
    values = x.detach().float().reshape(-1)
    non_finite = 0
    if not bool(torch.isfinite(values.sum())):  # a finite sum has no NaN or Inf in it: the exact count only then
        finite_mask = torch.isfinite(values)
        non_finite = int(values.numel() - finite_mask.sum())
        values = values[finite_mask]
    stats: dict[str, Any] = {"shape": list(x.shape), "dtype": str(x.dtype).replace("torch.", ""),
                             "integer": not (x.is_floating_point() or x.is_complex()),
                             "values": int(x.numel()), "non_finite": non_finite}
    if values.numel():
        mean, std = moments(values)
        low, high = torch.aminmax(values)
        stats.update(zip(("mean", "std", "min", "max"), torch.stack([mean, std, low, high]).tolist(), strict=True))
    if not per_feature:
        return stats
    batch = x.detach().float()
    features = _per_feature(torch.nan_to_num(batch, nan=0.0, posinf=0.0, neginf=0.0) if non_finite else batch)
    if features is not None:
        stats["feature_mean"], stats["feature_std"] = features[0].tolist(), features[1].tolist()
        stats["constant_features"] = int((features[1] == 0).sum())
    return stats


def _per_feature(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(mean, std) per column of a (B, F) table or per channel of a (B, C, H, W) image batch."""
    if values.dim() == 2 and values.shape[0] > 1 and values.shape[1] <= MAX_FEATURES:
        return values.mean(0), values.std(0)
    if values.dim() == 4 and values.shape[1] <= MAX_FEATURES:
        per_channel = values.transpose(0, 1).reshape(values.shape[1], -1)  # (C, B*H*W)
        return per_channel.mean(1), per_channel.std(1)
    return None


def kept_batch(x: torch.Tensor) -> Any:
    """The first samples of a batch, as numpy, for the report's "what goes into the net"."""
    return x.detach()[:KEEP].cpu().numpy().copy()


@torch.no_grad()
def layer_stats(out: torch.Tensor) -> dict[str, float]:
    """A layer's output on one batch: mean, spread and the share of exact zeros (where dead ReLUs show)."""
    values = flat_sample(out).float()
    mean, std = moments(values)
    nonzero = torch.sign(values).abs().sum()  # counts the non-zero values, without a boolean tensor
    numbers = torch.stack([mean, std, 1 - nonzero / values.numel()]).tolist()  # one read
    return dict(zip(("mean", "std", "zero_fraction"), numbers, strict=True))


def unit_kind(module: nn.Module) -> str | None:
    """'dead' for activations that can die, 'saturated' for squashing ones, None for the rest."""
    if isinstance(module, DYING):
        return "dead"
    if isinstance(module, tuple(SQUASHING)):
        return "saturated"
    return None


def _units(out: torch.Tensor) -> torch.Tensor:
    """(samples, units): channels for image maps (B, C, H, W); the last axis otherwise (a (B, T, F) sequence)."""
    if out.dim() >= 4:
        return out.transpose(0, 1).reshape(out.shape[1], -1).T
    return out.reshape(-1, out.shape[-1])


@torch.no_grad()
def unit_stats(module: nn.Module, out: torch.Tensor) -> dict[str, Any] | None:
    """The share of an activation's units that are dead (never above their floor on the batch) or saturated."""
    kind = unit_kind(module)
    if kind is None or out.dim() < 2:
        return None
    units = _units(out.detach().float())
    if kind == "dead":
        floor = 0.0 if isinstance(module, (nn.ReLU, nn.ReLU6)) else float(units.min()) + 1e-6
        stuck = units.amax(0) <= floor  # never above the floor on any sample
    else:
        low, high = next(bounds for cls, bounds in SQUASHING.items() if isinstance(module, cls))
        margin = SATURATION_MARGIN * (high - low)
        stuck = ((units < low + margin) | (units > high - margin)).float().mean(0) > SATURATED_ON
    return {"kind": kind, "units": int(units.shape[1]), "share": float(stuck.float().mean())}


def norms(grads: list[torch.Tensor]) -> list[float]:
    """The 2-norm of each tensor, read in one transfer (sampled steps only)."""
    if not grads:
        return []
    if len({(g.device, g.dtype) for g in grads}) == 1:
        return [float(v) for v in torch.stack(torch._foreach_norm(grads)).float().cpu().tolist()]
    return [float(g.norm()) for g in grads]


def total_norm(grads: list[torch.Tensor]) -> torch.Tensor | float:
    """The 2-norm over every gradient: a float for CPU tensors (reading a CPU number costs nothing), else a 0-d
    tensor left on their device (no host sync)."""
    if all(g.device.type == "cpu" for g in grads):
        return math.sqrt(sum(n.item() ** 2 for n in torch._foreach_norm(grads)))
    if len({(g.device, g.dtype) for g in grads}) == 1:
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    return torch.nn.utils.get_total_norm(grads)
