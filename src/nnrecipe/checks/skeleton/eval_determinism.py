"""eval-determinism: in eval mode the same batch gives the same outputs twice, and one sample's output does
not depend on the rest of its batch.

Dropout left active at eval (a functional dropout with `training=True`, a module that ignores `.eval()`)
makes every validation number noisy; batch-dependent eval outputs make the score depend on the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import forward

SAMPLES = 8
ALONE = 3  # samples also evaluated on their own


@dataclass(frozen=True)
class EvalDeterminismThresholds:
    #: largest output difference, relative to the output scale, still counted as identical (float round-off
    #: differs between batch sizes)
    tolerance: float = 1e-4


@dataclass(frozen=True)
class EvalDeterminismEvidence:
    #: the largest difference between two eval passes over the same batch, relative to the output scale
    repeat_difference: float
    #: the largest difference between a sample's output in its batch and on its own (inf when alone it raises)
    alone_difference: float
    #: what a forward pass on one sample alone raised, when it did
    alone_error: str | None = None


class EvalDeterminism(ModelCheck[EvalDeterminismEvidence, EvalDeterminismThresholds]):
    id = "eval-determinism"
    stage = "skeleton"
    title = "Evaluation is deterministic and per-sample"
    needs_loss = False
    Thresholds = EvalDeterminismThresholds

    def measure(self, ctx: ModelContext) -> EvalDeterminismEvidence:
        x, _ = ctx.batch(SAMPLES, "train", "eval-determinism")
        model = ctx.fresh_model("eval-determinism")
        with torch.no_grad(), mode(model, False):
            first, second = forward(model, x).float(), forward(model, x).float()
            scale = float(first.abs().max().clamp_min(1e-12))
            repeat = float((first - second).abs().max()) / scale
            try:
                alone = torch.cat([forward(model, x[i : i + 1]).float() for i in range(ALONE)])
                alone_difference = float((first[:ALONE] - alone).abs().max()) / scale
            except (ValueError, RuntimeError) as exc:  # e.g. "expected more than 1 value per channel"
                return EvalDeterminismEvidence(repeat_difference=repeat, alone_difference=float("inf"),
                                               alone_error=f"{type(exc).__name__}: {exc}")
        return EvalDeterminismEvidence(repeat_difference=repeat, alone_difference=alone_difference)

    def judge(self, e: EvalDeterminismEvidence, t: EvalDeterminismThresholds) -> Verdict:
        rep, alone = e.repeat_difference, e.alone_difference
        if not rep <= t.tolerance:
            return Verdict("fail", f"evaluating the same batch twice gives different outputs (relative difference "
                           f"{rep:.3g})", "something random stays on in eval mode: dropout called with training=True "
                           "or a module that ignores model.eval(); use nn.Dropout or pass training=self.training")
        if not alone <= t.tolerance:
            return Verdict("fail", f"a sample's eval output changes with the rest of its batch (relative difference "
                           f"{alone:.3g}{'; alone it raises ' + e.alone_error if e.alone_error is not None else ''})",
                           "the model uses batch statistics at eval: BatchNorm with "
                           "track_running_stats=False, or an op across the batch axis")
        return Verdict("pass", f"eval outputs are repeatable and per-sample (differences {rep:.2g}, {alone:.2g})")
