"""init-loss: "verify loss @ init" — the loss of a fresh model against its theoretical value.

An uninformed model predicts uniform classes (loss log C) or, with the final bias set to the prior, the
prior itself (loss = entropy of the class prior); for regression it predicts ~0 or the target mean. Both values
are computed with the experiment's own loss on the uninformed output in the model's own output space (logits,
log-probabilities of a model ending in log_softmax, probabilities, one binary logit), so an `nll_loss`, a Huber
loss or a cross-entropy that skips padding is judged against its own theory. A correct setup starts between those two values. Far above means a bad final layer (a large
bias, a big weight scale, unnormalized inputs); below means the loss is computed wrongly or the model already
sees the answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import forward, output_space
from nnrecipe.engine.targets import labelled

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


def uninformed_outputs(space: str, y: torch.Tensor, out_shape: torch.Size, num_classes: int | None,
                       prior: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """What a model that knows nothing about its input outputs, in its own output space: a uniform guess (or
    zero) and the prior (or the target mean)."""
    if space == "values":
        return {"zero": torch.zeros(out_shape, device=y.device),
                "mean": y.float().mean().expand(out_shape).to(y.device).clone()}
    assert num_classes is not None and prior is not None
    p = prior.clamp_min(1e-12).float().to(y.device)
    if space == "binary-logit":
        odds = float(p[1].log() - p[0].log())
        return {"zero": torch.zeros(out_shape, device=y.device), "mean": torch.full(out_shape, odds, device=y.device)}
    uniform = torch.full((num_classes,), 1.0 / num_classes, device=y.device)
    shape = (*y.shape, num_classes)  # (B, C) or (B, T, V)
    as_space = {"logits": torch.log, "log-probabilities": torch.log, "probabilities": lambda v: v}[space]
    return {"zero": as_space(uniform).expand(shape).clone(), "mean": as_space(p / p.sum()).expand(shape).clone()}


@dataclass(frozen=True)
class InitLossEvidence:
    #: the loss of fresh models, averaged over INITS initializations, and each one's
    measured: float
    per_init: list[float]
    #: the loss of uniform predictions (regression: outputs at 0), and of the class prior (the target mean)
    expected: float
    expected_with_prior_bias: float
    #: "logits", "log-probabilities", "probabilities", "binary-logit" or "values" (regression)
    output_space: str
    loss: str
    #: with a custom loss on classes: the standard cross-entropy of uniform predictions, -log(1/C)
    standard_uninformed: float | None = None
    prior: list[float] | None = None
    predicted_at_init: list[float] | None = None


class InitLoss(ModelCheck[InitLossEvidence, InitLossThresholds]):
    id = "init-loss"
    stage = "skeleton"
    title = "Loss at initialization"
    Thresholds = InitLossThresholds

    def measure(self, ctx: ModelContext) -> InitLossEvidence:
        x, y = ctx.batch(SAMPLES, "train", "init-loss")
        losses, mean_probs, outputs = [], [], []
        for i in range(INITS):
            model = ctx.fresh_model("init-loss", i)
            # train mode: the first training step's loss is the one that starts the curve (a BatchNorm first
            # layer normalizes by batch statistics there; in eval mode at init its running stats are still 0 and 1)
            with torch.no_grad(), mode(model, True):
                out = forward(model, x)
                outputs.append(out)
                losses.append(float(ctx.loss_fn(out, y)))
        space = output_space(outputs[0], ctx.task, ctx.num_classes)
        keep = labelled(y, ctx.ignore_index)
        for out in outputs:
            if space in ("logits", "log-probabilities"):
                mean_probs.append(out.float().softmax(-1)[keep].reshape(-1, out.shape[-1]).mean(0))
        prior = ctx.class_prior() if ctx.task != "regression" else None
        uninformed = uninformed_outputs(space, y, outputs[0].shape, ctx.num_classes, prior)
        # The theory uses the experiment's own loss: a Huber loss at the target mean, an nll_loss on the
        # log-probabilities of a model that ends in log_softmax, a cross-entropy that skips padding.
        expected_high = float(ctx.loss_fn(uninformed["zero"], y))
        expected_low = float(ctx.loss_fn(uninformed["mean"], y))
        custom = ctx.experiment.loss is not None and space in ("logits", "log-probabilities", "binary-logit")
        listed = prior is not None and ctx.num_classes is not None and ctx.num_classes <= 100
        return InitLossEvidence(
            measured=sum(losses) / len(losses),
            per_init=losses,
            expected=expected_high,
            expected_with_prior_bias=expected_low,
            output_space=space,
            loss="the experiment's own" if ctx.experiment.loss is not None else "the standard",
            # the standard cross-entropy on the same uninformed guess: -log(1/C), whatever the output space
            standard_uninformed=math.log(ctx.num_classes or 2) if custom else None,
            prior=prior.tolist() if listed and prior is not None else None,
            predicted_at_init=torch.stack(mean_probs).mean(0).tolist() if listed and mean_probs else None,
        )

    def judge(self, e: InitLossEvidence, t: InitLossThresholds) -> Verdict:
        value, high = e.measured, e.expected
        low = min(e.expected_with_prior_bias, high)
        regression = e.output_space == "values"
        high_warn = t.regression_high_warn if regression else t.high_warn
        high_fail = t.regression_high_fail if regression else t.high_fail
        theory = _theory_text(regression, high, low, e.loss)
        if not math.isfinite(value):
            return Verdict("fail", f"loss at init is {value}, expected {theory}",
                           "a fresh model already gives a non-finite loss: look for NaN/Inf inputs, a log of zero "
                           "(softmax then log) or an exploding initialization")
        if value > high * (1 + high_fail):
            return Verdict("fail", f"loss at init {value:.3g}, expected {theory}", _too_high_fix(regression))
        if value < low * (1 - t.low_fail):
            return Verdict("fail", f"loss at init {value:.3g} is far below {theory}", _too_low_fix())
        standard = e.standard_uninformed
        if standard is not None and abs(high - standard) > t.custom_loss_tolerance * max(standard, 1e-8):
            return Verdict("warn", f"your loss gives {high:.3g} on uninformed predictions where cross-entropy "
                           f"gives {standard:.3g}; loss at init {value:.3g}",
                           "check that the custom loss is the one you mean: it differs from cross-entropy even "
                           "where the model knows nothing (clamped, rescaled or summed instead of averaged?)")
        if value > high * (1 + high_warn):
            return Verdict("warn", f"loss at init {value:.3g} is somewhat above {theory}", _too_high_fix(regression))
        if value < low * (1 - t.low_warn):
            return Verdict("warn", f"loss at init {value:.3g} is somewhat below {theory}", _too_low_fix())
        return Verdict("pass", f"loss at init {value:.3g}, as expected: {theory}")


def _theory_text(regression: bool, high: float, low: float, loss: str) -> str:
    if regression:
        return f"{low:.3g} (output at the target mean) to {high:.3g} (output near 0) with {loss} loss"
    if abs(high - low) < 0.01 * high:
        return f"{high:.3g} (uniform predictions) with {loss} loss, for balanced classes"
    return f"{low:.3g} (the class prior) to {high:.3g} (uniform predictions) with {loss} loss"


def _too_high_fix(regression: bool) -> str:
    if regression:
        return ("the outputs start far from the targets: standardize the targets (or set the final bias to their "
                "mean), normalize the inputs, and check the final layer's weight scale")
    return ("the final layer starts far from uniform: check its bias and weight scale (init the bias to the log "
            "class prior, shrink the last layer's weights) and normalize the inputs")


def _too_low_fix() -> str:
    return ("a fresh model should not beat an uninformed guess: check that the loss averages over the right "
            "dimension and is not clamped or rescaled, and that the target is not visible in the input")
