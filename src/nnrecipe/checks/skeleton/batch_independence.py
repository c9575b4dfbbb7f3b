"""batch-independence: "use backprop to chart dependencies" — the gradient of one sample's output must be
zero on every other sample's input.

A `view` where a `permute` was meant, a recurrent layer without `batch_first`, a reshape across the batch
axis: the model mixes information between samples, silently. In eval mode the independence must hold
exactly; in train mode BatchNorm-style layers mix samples by design, and that is reported for what it is.
For integer inputs (token ids) the gradient cannot reach the input, so one sample is perturbed instead and
the other samples' outputs are watched.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import forward
from nnrecipe.engine.seeding import same_draws

SAMPLES = 6
_BATCH_MIXING = (nn.modules.batchnorm._BatchNorm,)


@dataclass(frozen=True)
class BatchIndependenceThresholds:
    #: leakage onto other samples, relative to the sample's own dependence, above which samples mix
    tolerance: float = 1e-5


def leakage(model: nn.Module, x: torch.Tensor, probes: list[int]) -> float:
    """How much the outputs of `probes` depend on the other samples, relative to their own input."""
    worst = 0.0
    for i in probes:
        if x.is_floating_point():
            xg = x.detach().clone().requires_grad_(True)
            out = forward(model, xg)
            (grad,) = torch.autograd.grad(out[i].float().sum(), xg)
            own = grad[i].abs().max()
            others = torch.cat([grad[:i], grad[i + 1 :]]).abs().max()
        else:
            x2 = x.clone()
            x2[i] = (x2[i] + 1) % (int(x.max()) + 1)  # another valid token everywhere in sample i
            # Both passes draw the same dropout masks: in train mode, randomness is not mixing.
            out, out2 = (same_draws(functools.partial(_detached_forward, model, v), x.device) for v in (x, x2))
            diff = (out2 - out).float().abs().reshape(len(x), -1).max(1).values
            own = diff[i]
            others = torch.cat([diff[:i], diff[i + 1 :]]).max()
        worst = max(worst, float(others / own.clamp_min(1e-12)))
    return worst


def _detached_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return forward(model, x).detach()


class BatchIndependence(Check):
    id = "batch-independence"
    stage = "skeleton"
    title = "Samples in a batch do not mix"
    needs_loss = False
    Thresholds = BatchIndependenceThresholds

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        x, _ = ctx.batch(SAMPLES, "train", "batch-independence")
        model = ctx.fresh_model("batch-independence")
        probes = [0, len(x) - 1]
        with mode(model, False):
            eval_leak = leakage(model, x, probes)
        with mode(model, True):
            train_leak = leakage(model, x, probes)
        mixing_layers = [n for n, m in model.named_modules() if isinstance(m, _BATCH_MIXING)]
        return {"eval_leakage": eval_leak, "train_leakage": train_leak, "batch_norm_layers": mixing_layers[:10],
                "method": "gradient" if x.is_floating_point() else "perturbation"}

    def judge(self, m: Mapping[str, Any], t: BatchIndependenceThresholds) -> Verdict:
        ev, tr = m["eval_leakage"], m["train_leakage"]
        if not ev <= t.tolerance:  # also catches NaN
            return Verdict("fail", f"in eval mode, one sample's output depends on other samples in the batch "
                           f"(leakage {ev:.3g} of its own dependence, by {m['method']})",
                           "the model mixes samples: look for a view/reshape where a permute/transpose was meant, "
                           "a recurrent layer or attention without batch_first, or an op across the batch axis")
        if tr > t.tolerance and m["batch_norm_layers"]:
            return Verdict("pass", f"samples are independent in eval mode; in train mode BatchNorm mixes them "
                           f"(leakage {tr:.3g}), as it is designed to")
        if tr > t.tolerance:
            return Verdict("warn", f"samples are independent in eval mode, but mix in train mode (leakage {tr:.3g}) "
                           "with no BatchNorm layer to explain it",
                           "look for an op that only runs in training and reduces over the batch axis")
        return Verdict("pass", f"samples are independent (leakage {max(ev, tr):.2g} in eval and train mode, "
                       f"by {m['method']})")
