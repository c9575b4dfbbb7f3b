"""eval-determinism: in eval mode the same batch gives the same outputs twice, and one sample's output does
not depend on the rest of its batch.

Dropout left active at eval (a functional dropout with `training=True`, a module that ignores `.eval()`)
makes every validation number noisy; batch-dependent eval outputs make the score depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import forward

SAMPLES = 8
ALONE = 3  # samples also evaluated on their own


@dataclass(frozen=True)
class EvalDeterminismThresholds:
    #: largest output difference, relative to the output scale, still counted as identical (float round-off
    #: differs between batch sizes)
    tolerance: float = 1e-4


class EvalDeterminism(Check):
    id = "eval-determinism"
    stage = "skeleton"
    title = "Evaluation is deterministic and per-sample"
    needs_loss = False
    Thresholds = EvalDeterminismThresholds

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        x, _ = ctx.batch(SAMPLES, "train", "eval-determinism")
        model = ctx.fresh_model("eval-determinism")
        with torch.no_grad(), mode(model, False):
            first, second = forward(model, x).float(), forward(model, x).float()
            scale = float(first.abs().max().clamp_min(1e-12))
            measured: dict[str, Any] = {"repeat_difference": float((first - second).abs().max()) / scale}
            try:
                alone = torch.cat([forward(model, x[i : i + 1]).float() for i in range(ALONE)])
                measured["alone_difference"] = float((first[:ALONE] - alone).abs().max()) / scale
            except (ValueError, RuntimeError) as exc:  # e.g. "expected more than 1 value per channel"
                measured["alone_difference"] = float("inf")
                measured["alone_error"] = f"{type(exc).__name__}: {exc}"
        return measured

    def judge(self, m: Mapping[str, Any], t: EvalDeterminismThresholds) -> Verdict:
        rep, alone = m["repeat_difference"], m["alone_difference"]
        if not rep <= t.tolerance:
            return Verdict("fail", f"evaluating the same batch twice gives different outputs (relative difference "
                           f"{rep:.3g})", "something random stays on in eval mode: dropout called with training=True "
                           "or a module that ignores model.eval(); use nn.Dropout or pass training=self.training")
        if not alone <= t.tolerance:
            return Verdict("fail", f"a sample's eval output changes with the rest of its batch (relative difference "
                           f"{alone:.3g}{'; alone it raises ' + m['alone_error'] if 'alone_error' in m else ''})",
                           "the model uses batch statistics at eval: BatchNorm with "
                           "track_running_stats=False, or an op across the batch axis")
        return Verdict("pass", f"eval outputs are repeatable and per-sample (differences {rep:.2g}, {alone:.2g})")
