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
from dataclasses import dataclass

import torch
from torch import nn

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import forward
from nnrecipe.seeding import same_draws

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


@dataclass(frozen=True)
class BatchIndependenceEvidence:
    #: the worst dependence of a probed sample's output on the other samples, relative to its own input, in eval
    #: and in train mode
    eval_leakage: float
    train_leakage: float
    #: the model's BatchNorm layers (the first 10), which mix samples in train mode by design
    batch_norm_layers: list[str]
    #: "gradient" (float inputs) or "perturbation" (integer inputs such as token ids)
    method: str


class BatchIndependence(ModelCheck[BatchIndependenceEvidence, BatchIndependenceThresholds]):
    id = "batch-independence"
    stage = "skeleton"
    title = "Samples in a batch do not mix"
    needs_loss = False
    Thresholds = BatchIndependenceThresholds

    def measure(self, ctx: ModelContext) -> BatchIndependenceEvidence:
        x, _ = ctx.batch(SAMPLES, "train", "batch-independence")
        model = ctx.fresh_model("batch-independence")
        probes = [0, len(x) - 1]
        with mode(model, False):
            eval_leak = leakage(model, x, probes)
        with mode(model, True):
            train_leak = leakage(model, x, probes)
        mixing_layers = [n for n, m in model.named_modules() if isinstance(m, _BATCH_MIXING)]
        return BatchIndependenceEvidence(eval_leakage=eval_leak, train_leakage=train_leak,
                                         batch_norm_layers=mixing_layers[:10],
                                         method="gradient" if x.is_floating_point() else "perturbation")

    def judge(self, e: BatchIndependenceEvidence, t: BatchIndependenceThresholds) -> Verdict:
        ev, tr = e.eval_leakage, e.train_leakage
        if not ev <= t.tolerance:  # also catches NaN
            return Verdict("fail", f"in eval mode, one sample's output depends on other samples in the batch "
                           f"(leakage {ev:.3g} of its own dependence, by {e.method})",
                           "the model mixes samples: look for a view/reshape where a permute/transpose was meant, "
                           "a recurrent layer or attention without batch_first, or an op across the batch axis")
        if tr > t.tolerance and e.batch_norm_layers:
            return Verdict("pass", f"samples are independent in eval mode; in train mode BatchNorm mixes them "
                           f"(leakage {tr:.3g}), as it is designed to")
        if tr > t.tolerance:
            return Verdict("warn", f"samples are independent in eval mode, but mix in train mode (leakage {tr:.3g}) "
                           "with no BatchNorm layer to explain it",
                           "look for an op that only runs in training and reduces over the batch axis")
        return Verdict("pass", f"samples are independent (leakage {max(ev, tr):.2g} in eval and train mode, "
                       f"by {e.method})")
