"""causal (sequence task): the output at position t must not depend on any input after t.

A next-token model that can see the future (a bidirectional layer, attention without its mask, a
convolution padded on both sides) learns to copy the answer and gives a training loss that means nothing.
The check perturbs the token at a few positions and watches the outputs before them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import forward
from nnrecipe.seeding import same_draws

SAMPLES = 4


@dataclass(frozen=True)
class CausalThresholds:
    #: change of an earlier output, relative to the change at the perturbed position, above which the
    #: model looks ahead
    tolerance: float = 1e-5


def _float_forward(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return forward(model, x).float()


@dataclass(frozen=True)
class CausalEvidence:
    #: the largest change of an output before a perturbed position, relative to the change from it on
    leakage_from_future: float
    perturbed_positions: list[int]
    #: the perturbed position with the largest leakage; None (shown as null) when no earlier output changed
    worst_position: int | None


class Causal(ModelCheck[CausalEvidence, CausalThresholds]):
    id = "causal"
    stage = "skeleton"
    title = "Next-token outputs see only the past"
    needs_loss = False
    Thresholds = CausalThresholds

    def applies(self, ctx: ModelContext) -> str | None:
        return None if ctx.task == "sequence" else "only for the sequence task (next-token prediction)"

    def measure(self, ctx: ModelContext) -> CausalEvidence:
        x, _ = ctx.batch(SAMPLES, "train", "causal")
        vocab = ctx.num_classes or int(x.max()) + 1
        length = x.shape[1]
        positions = sorted({length - 1, length // 2, 1} - {0})
        model = ctx.fresh_model("causal")
        worst, where = 0.0, None  # the largest leakage found, and where
        with torch.no_grad(), mode(model, False):
            # the same random draws for every pass: dropout left on at eval is eval-determinism's finding, and
            # must not read as the model seeing the future
            out = same_draws(functools.partial(_float_forward, model, x), x.device)  # (B, T, V)
            for p in positions:
                x2 = x.clone()
                x2[:, p] = (x2[:, p] + 1) % vocab
                diff = (same_draws(functools.partial(_float_forward, model, x2), x.device) - out).abs()  # (B, T, V)
                own = diff[:, p:].max().clamp_min(1e-12)
                past = diff[:, :p].max()
                if float(past / own) > worst:
                    worst, where = float(past / own), p
        return CausalEvidence(leakage_from_future=worst, perturbed_positions=positions, worst_position=where)

    def judge(self, e: CausalEvidence, t: CausalThresholds) -> Verdict:
        leak = e.leakage_from_future
        if not leak <= t.tolerance:
            return Verdict("fail", f"outputs depend on later inputs: changing the token at position "
                           f"{e.worst_position} changes earlier outputs (leakage {leak:.3g})",
                           "the model sees the future it must predict: use a causal attention mask, a "
                           "unidirectional recurrent layer, or left-only padding for convolutions")
        return Verdict("pass", f"outputs see only the past (leakage {leak:.2g} at positions "
                       f"{e.perturbed_positions})")
