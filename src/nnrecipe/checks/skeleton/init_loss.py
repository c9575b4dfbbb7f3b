"""init-loss: "verify loss @ init" — the loss of a fresh model against its theoretical value.

An uninformed model predicts uniform classes (loss log C) or, with the final bias set to the prior, the
prior itself (loss = entropy of the class prior); for regression it predicts ~0 (loss E[y^2]) or the mean
(loss Var[y]). A correct setup starts between those two values. Far above means a bad final layer (a large
bias, a big weight scale, unnormalized inputs); below means the loss is computed wrongly or the model already
sees the answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.data import default_loss
from nnrecipe.engine.loop import mode

SAMPLES = 512
INITS = 3  # average a few fresh initializations: one draw can sit in a tail


@dataclass(frozen=True)
class InitLossThresholds:
    #: warn / fail when the loss is above the uninformed value by this fraction of it
    high_warn: float = 0.25
    high_fail: float = 1.0
    #: regression outputs start with some variance of their own, so allow more above E[y^2]
    regression_high_warn: float = 1.0
    regression_high_fail: float = 3.0
    #: warn / fail when the loss is below the best uninformed value by this fraction of it
    low_warn: float = 0.2
    low_fail: float = 0.5
    #: a custom loss that disagrees with the standard one on uninformed predictions by more than this
    custom_loss_tolerance: float = 0.05


def uninformed_outputs(task: str, y: torch.Tensor, num_classes: int | None, prior: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """The outputs of a model that knows nothing about the input: uniform (or zero) and the prior (or mean)."""
    if task == "regression":
        return {"zero": torch.zeros_like(y, dtype=torch.float32), "mean": y.float().mean().expand_as(y).clone()}
    assert num_classes is not None and prior is not None
    shape = (*y.shape, num_classes)  # (B, C) or (B, T, V)
    log_prior = prior.clamp_min(1e-12).log().float().to(y.device)
    return {"zero": torch.zeros(shape, device=y.device), "mean": log_prior.expand(shape).clone()}


class InitLoss(Check):
    id = "init-loss"
    stage = "skeleton"
    title = "Loss at initialization"
    Thresholds = InitLossThresholds

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        x, y = ctx.batch(SAMPLES, "train", "init-loss")
        losses, mean_probs = [], []
        for i in range(INITS):
            model = ctx.fresh_model("init-loss", i)
            with torch.no_grad(), mode(model, False):
                out = model(x)
                losses.append(float(ctx.loss_fn(out, y)))
                if ctx.task != "regression" and out.shape[-1] == ctx.num_classes:
                    mean_probs.append(out.float().softmax(-1).reshape(-1, out.shape[-1]).mean(0))
        prior = ctx.class_prior() if ctx.task != "regression" else None
        standard = default_loss(ctx.task)
        uninformed = uninformed_outputs(ctx.task, y, ctx.num_classes, prior)
        expected_high = float(standard(uninformed["zero"], y))
        expected_low = float(standard(uninformed["mean"], y))
        measured: dict[str, Any] = {
            "measured": sum(losses) / len(losses),
            "per_init": losses,
            "expected": expected_high,
            "expected_with_prior_bias": expected_low,
            "task": ctx.task,
        }
        if ctx.experiment.loss is not None:
            measured["custom_loss_uninformed"] = float(ctx.loss_fn(uninformed["zero"], y))
        if prior is not None and ctx.num_classes is not None and ctx.num_classes <= 100:
            measured["prior"] = prior.tolist()
            if mean_probs:
                measured["predicted_at_init"] = torch.stack(mean_probs).mean(0).tolist()
        return measured

    def judge(self, m: Mapping[str, Any], t: InitLossThresholds) -> Verdict:
        value, high = m["measured"], m["expected"]
        low = min(m["expected_with_prior_bias"], high)
        regression = m["task"] == "regression"
        high_warn = t.regression_high_warn if regression else t.high_warn
        high_fail = t.regression_high_fail if regression else t.high_fail
        theory = _theory_text(m["task"], high, low)
        if not math.isfinite(value):
            return Verdict("fail", f"loss at init is {value}, expected {theory}",
                           "a fresh model already gives a non-finite loss: look for NaN/Inf inputs, a log of zero "
                           "(softmax then log) or an exploding initialization")
        if value > high * (1 + high_fail):
            return Verdict("fail", f"loss at init {value:.3g}, expected {theory}", _too_high_fix(regression))
        if value < low * (1 - t.low_fail):
            return Verdict("fail", f"loss at init {value:.3g} is far below {theory}", _too_low_fix())
        custom = m.get("custom_loss_uninformed")
        if custom is not None and abs(custom - high) > t.custom_loss_tolerance * max(high, 1e-8):
            return Verdict("warn", f"your loss gives {custom:.3g} on uninformed predictions where the standard loss "
                           f"gives {high:.3g}; loss at init {value:.3g}",
                           "check that the custom loss is the one you mean: it differs from the standard loss even "
                           "where the model knows nothing (clamped, rescaled or summed instead of averaged?)")
        if value > high * (1 + high_warn):
            return Verdict("warn", f"loss at init {value:.3g} is somewhat above {theory}", _too_high_fix(regression))
        if value < low * (1 - t.low_warn):
            return Verdict("warn", f"loss at init {value:.3g} is somewhat below {theory}", _too_low_fix())
        return Verdict("pass", f"loss at init {value:.3g}, as expected: {theory}")


def _theory_text(task: str, high: float, low: float) -> str:
    if task == "regression":
        return f"{low:.3g} (Var[y], output at the mean) to {high:.3g} (E[y^2], output near 0) for MSE"
    if abs(high - low) < 0.01 * high:
        return f"{high:.3g} = -log(1/C) for balanced classes"
    return f"{low:.3g} (entropy of the class prior) to {high:.3g} (-log(1/C), uniform predictions)"


def _too_high_fix(regression: bool) -> str:
    if regression:
        return ("the outputs start far from the targets: standardize the targets (or set the final bias to their "
                "mean), normalize the inputs, and check the final layer's weight scale")
    return ("the final layer starts far from uniform: check its bias and weight scale (init the bias to the log "
            "class prior, shrink the last layer's weights) and normalize the inputs")


def _too_low_fix() -> str:
    return ("a fresh model should not beat an uninformed guess: check that the loss averages over the right "
            "dimension and is not clamped or rescaled, and that the target is not visible in the input")
