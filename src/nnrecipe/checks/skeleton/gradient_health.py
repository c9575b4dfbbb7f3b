"""gradient-health: after the short run, per layer — dead units, saturated activations, vanishing or
exploding gradients, and update-to-weight ratios far from ~1e-3.

Read on a copy of the short-run model with one forward and backward pass on a training batch (activations
through hooks on activation modules), and on the update ratios the short run sampled on its way.
"""

from __future__ import annotations

import copy
import math
import statistics
from dataclasses import dataclass
from typing import Any, TypedDict

import torch
from torch import nn

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.checks.skeleton.short_run import shared_short_run
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import forward

SAMPLES = 256
_RELU = (nn.ReLU, nn.ReLU6, nn.ELU, nn.SELU, nn.CELU)  # units whose output can be stuck at its floor
_SQUASH: dict[type[nn.Module], tuple[float, float]] = {nn.Tanh: (-1.0, 1.0), nn.Sigmoid: (0.0, 1.0), nn.Hardtanh: (-1.0, 1.0)}
_WATCHED: tuple[type[nn.Module], ...] = (*_RELU, *_SQUASH)


@dataclass(frozen=True)
class GradientHealthThresholds:
    #: warn when more than this share of a layer's units are dead (never active on the batch) ...
    dead: float = 0.5
    #: ... or saturated (within `saturation_margin` of a bound on more than 95% of the batch)
    saturated: float = 0.5
    saturation_margin: float = 0.03
    #: layers with fewer units are not judged for dead/saturated units
    min_units: int = 8
    #: median update-to-weight ratio of the weight matrices outside [low, high]: learning rate far off
    update_low: float = 1e-5
    update_high: float = 0.2
    #: smallest / largest per-layer gradient-to-weight ratio below this: gradients vanish on the way down
    vanishing: float = 1e-4


class ActivationStats(TypedDict):
    """One watched activation layer on the batch."""

    layer: str
    #: "dead" (ReLU-like units never active) or "saturated" (tanh/sigmoid units stuck near a bound)
    kind: str
    units: int
    #: the share of the layer's units that are dead (saturated)
    share: float


@dataclass(frozen=True)
class GradientHealthEvidence:
    #: the watched activation layers, in forward order (the first 50)
    activations: list[ActivationStats]
    #: per weight matrix (2-D and up), ||gradient|| / ||weight|| after the short run
    grad_to_weight: dict[str, float]
    #: per weight matrix, the median update-to-weight ratio the short run sampled
    update_to_weight: dict[str, float]


def _units(out: torch.Tensor) -> torch.Tensor:
    """(samples, units): channels for conv maps, the last axis otherwise."""
    if out.dim() == 4:
        return out.transpose(0, 1).reshape(out.shape[1], -1).T
    return out.reshape(-1, out.shape[-1])


def _activation_stats(name: str, module: nn.Module, out: torch.Tensor,
                      t: GradientHealthThresholds) -> ActivationStats | None:
    units = _units(out.detach().float())
    if isinstance(module, _RELU):
        floor = units.min()
        dead = (units <= floor + 1e-8).all(0) if isinstance(module, (nn.ELU, nn.SELU, nn.CELU)) else (units <= 0).all(0)
        return {"layer": name, "kind": "dead", "units": units.shape[1], "share": float(dead.double().mean())}
    for kind, (lo, hi) in _SQUASH.items():
        if isinstance(module, kind):
            margin = t.saturation_margin * (hi - lo)
            near = ((units < lo + margin) | (units > hi - margin)).double().mean(0) > 0.95
            return {"layer": name, "kind": "saturated", "units": units.shape[1], "share": float(near.double().mean())}
    return None


class GradientHealth(ModelCheck[GradientHealthEvidence, GradientHealthThresholds]):
    id = "gradient-health"
    stage = "skeleton"
    title = "Activations, gradients and update sizes per layer"
    Thresholds = GradientHealthThresholds

    def measure(self, ctx: ModelContext) -> GradientHealthEvidence:
        run = shared_short_run(ctx)
        model = copy.deepcopy(run.model)
        layers: list[ActivationStats] = []
        watched: list[tuple[str, nn.Module]] = [(n, m) for n, m in model.named_modules() if isinstance(m, _WATCHED)]
        hooks = [m.register_forward_hook(self._hook(n, layers)) for n, m in watched]
        x, y = ctx.batch(SAMPLES, "train", "gradient-health")
        try:
            with mode(model, True):
                model.zero_grad(set_to_none=True)
                ctx.loss_fn(forward(model, x), y).backward()
        finally:
            for h in hooks:
                h.remove()
        grads = {n: float(p.grad.norm() / p.detach().norm().clamp_min(1e-12))
                 for n, p in model.named_parameters() if p.grad is not None and p.dim() >= 2}
        updates = {n: statistics.median(v) for n, v in run.update_ratios.items()
                   if v and dict(run.model.named_parameters())[n].dim() >= 2}
        return GradientHealthEvidence(activations=layers[:50], grad_to_weight=grads, update_to_weight=updates)

    def _hook(self, name: str, layers: list[ActivationStats]) -> Any:
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            stats = _activation_stats(name, module, output, self.thresholds)
            if stats is not None:
                layers.append(stats)

        return hook

    def judge(self, e: GradientHealthEvidence, t: GradientHealthThresholds) -> Verdict:
        grads, updates = e.grad_to_weight, e.update_to_weight
        if any(not math.isfinite(g) for g in grads.values()):
            bad = [n for n, g in grads.items() if not math.isfinite(g)]
            return Verdict("fail", f"non-finite gradients after the short run in {', '.join(bad[:5])}",
                           "the optimization diverged: lower the learning rate, clip gradients, check the inputs")
        found = [*_activation_problems(e.activations, t), *_update_problems(updates, t), *_vanishing_problems(grads, t)]
        if found:
            problems, fixes = zip(*found, strict=True)
            return Verdict("warn", "; ".join(problems), " / ".join(dict.fromkeys(fixes)))
        med = statistics.median(updates.values()) if updates else float("nan")
        return Verdict("pass", f"{len(e.activations)} activation layers without dead or saturated majorities; "
                       f"median update-to-weight ratio {med:.2g}")


#: a problem the judge found, and its fix
_Problem = tuple[str, str]


def _activation_problems(activations: list[ActivationStats], t: GradientHealthThresholds) -> list[_Problem]:
    problems = []
    for a in activations:
        limit = t.dead if a["kind"] == "dead" else t.saturated
        if a["units"] >= t.min_units and a["share"] > limit:
            problems.append((f"{a['share']:.0%} of the units after {a['layer']} are {a['kind']}",
                             "dead/saturated units: lower the learning rate, normalize the inputs, use a "
                             "better-scaled init (kaiming for ReLU) or normalization layers"))
    return problems


def _update_problems(updates: dict[str, float], t: GradientHealthThresholds) -> list[_Problem]:
    if not updates:
        return []
    med = statistics.median(updates.values())
    if t.update_low <= med <= t.update_high:
        return []
    return [(f"the median update-to-weight ratio is {med:.2g} (healthy is around 1e-3)",
             "the learning rate is far off: " + ("raise it" if med < t.update_low else "lower it"))]


def _vanishing_problems(grads: dict[str, float], t: GradientHealthThresholds) -> list[_Problem]:
    finite = [g for g in grads.values() if g > 0]
    if not (len(finite) >= 2 and min(finite) / max(finite) < t.vanishing):
        return []
    return [(f"gradient-to-weight ratios span {min(finite):.2g} to {max(finite):.2g} across layers",
             "gradients vanish through the depth: add residual connections or normalization, check "
             "for saturating activations")]
