"""input-independent: "train an input-independent baseline" — the same model, the same short budget, on
zeroed inputs, must do clearly worse on validation than on the real inputs.

When it does not, the model extracts nothing from its input: labels shuffled apart from their inputs, an
input that never reaches the output (a detached or overwritten tensor), a preprocessing bug that wipes the
signal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.skeleton._common import map_inputs
from nnrecipe.checks.skeleton.short_run import shared_short_run_scores, train_short, val_subset
from nnrecipe.engine.loop import evaluate


@dataclass(frozen=True)
class InputIndependentThresholds:
    #: fail when the real inputs lower the validation loss by less than this fraction of the zero-input loss
    fail_below: float = 0.02
    #: warn below this fraction, unless the input accounts for at least `input_share` of what the short run
    #: learned at all (a correct model at a small learning rate learns slowly, but much of it from its input;
    #: a model that ignores its input sits near 0, since without the input only the class prior is learnable)
    warn_below: float = 0.10
    input_share: float = 0.3


class InputIndependent(Check):
    id = "input-independent"
    stage = "skeleton"
    title = "The model uses its input (vs. an input-independent baseline)"
    Thresholds = InputIndependentThresholds

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        real = shared_short_run_scores(ctx)
        zeroed = ctx.experiment.replace(train=map_inputs(ctx.experiment.train, torch.zeros_like))
        zero_ctx = type(ctx)(zeroed, device=ctx.device, seed=ctx.seed, budget=ctx.budget)
        # Same names as the shared run: the same initial weights and the same batches, only the inputs differ.
        run = train_short(zero_ctx, seed=ctx.derive("short-run"))
        zero_val = map_inputs(val_subset(ctx), torch.zeros_like)
        zero = evaluate(run.model, zero_val, zeroed, device=ctx.device)
        # The shared run's starting point: a fresh model with the same initial weights, before any step.
        start = evaluate(ctx.fresh_model("short-run"), val_subset(ctx), ctx.experiment, device=ctx.device)
        return {"real_inputs": real, "zero_inputs": zero, "untrained": start}

    def judge(self, m: Mapping[str, Any], t: InputIndependentThresholds) -> Verdict:
        real, zero = m["real_inputs"]["loss"], m["zero_inputs"]["loss"]
        gain = (zero - real) / abs(zero) if zero else 0.0
        learned = m["untrained"]["loss"] - real if "untrained" in m else 0.0
        share = (zero - real) / learned if learned > 0 else 0.0  # of what the run learned, how much came from x
        numbers = {"relative_gain": gain, "input_share": share}
        text = f"validation loss after a short run {real:.4g} on the real inputs vs {zero:.4g} on zeroed inputs"
        fix = ("the model learns nothing from its input: check that inputs and labels stay paired (shuffled "
               "together, not apart), that the input reaches the output (no detach, no overwritten tensor), and "
               "that preprocessing keeps the signal")
        if real != real or gain < t.fail_below:  # NaN compares unequal to itself
            return Verdict("fail", f"{text}: the input does not help ({-gain:+.1%})", fix, evidence=numbers)
        if gain < t.warn_below and share < t.input_share:
            return Verdict("warn", f"{text}: the input helps only a little ({-gain:+.1%})", fix, evidence=numbers)
        if gain < t.warn_below:
            return Verdict("pass", f"{text} ({-gain:+.1%}); small, but {share:.0%} of what the short run learned came "
                           "from the input", evidence=numbers)
        return Verdict("pass", f"{text} ({-gain:+.0%})", evidence=numbers)
