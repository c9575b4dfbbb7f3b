"""init-bias: "init well" — a fresh model's predictions against the data's prior.

A model that knows nothing should predict the class frequencies (or the target mean), not a uniform guess
on imbalanced data nor a mean far from the targets': the first steps are then spent learning the prior, and
the loss curve shows a "hockey stick". Measured as the loss at init before and after setting the final
layer's bias to the prior (`init_final_bias`, what `--fix-init` applies).

Next-token models are the exception, and are reported but never warned: their prior is a vocabulary's Zipf
distribution, which costs a fixed share of log V at a uniform start and is learned in the first few dozen steps;
the convention (Karpathy's own makemore lectures fix the last layer so the loss starts at -log(1/V)) is a
uniform start, which init-loss verifies. The advice is the recipe's for imbalanced classes and regression
targets far from zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.data import all_targets
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import forward

SAMPLES = 512
UNFIXED = "__nnrecipe_unfixed__"  # the original factory, on a factory wrapped by `with_fixed_init`


@dataclass(frozen=True)
class InitBiasThresholds:
    #: warn when setting the final bias to the prior lowers the loss at init by more than this fraction
    gain_warn: float = 0.10


def _infer_task(targets: torch.Tensor, sample_input: Any) -> str:
    if targets.is_floating_point():
        return "regression"
    return "sequence" if targets.dim() > 1 and torch.as_tensor(sample_input).shape == targets.shape[1:] else "classification"


def _targets_and_task(data: Any, task: str | None) -> tuple[torch.Tensor, str, int | None]:
    from nnrecipe.engine.data import infer_num_classes
    from nnrecipe.experiment import Experiment

    if isinstance(data, Experiment):
        return all_targets(data.train), data.task, infer_num_classes(data)
    if isinstance(data, torch.Tensor):
        targets = data
        task = task or ("regression" if targets.is_floating_point() else "classification")
    else:
        targets = all_targets(data)
        task = task or _infer_task(targets, data[0][0])
    classes = None if task == "regression" else int(targets.max()) + 1
    return targets, task, classes


def _prior_bias(targets: torch.Tensor, task: str, size: int) -> torch.Tensor:
    """The bias that makes an uninformed model predict the prior: log class frequencies, or the target mean."""
    if task == "regression":
        mean = targets.float().reshape(len(targets), -1).mean(0)
        return mean if mean.numel() == size else mean.mean().expand(size).clone()
    labels = targets.reshape(-1).long()
    labels = labels[(labels >= 0) & (labels < size)]  # padding (a negative ignore index) is no class
    counts = torch.bincount(labels, minlength=size)[:size].double()
    log_prior = (counts / counts.sum()).clamp_min(1e-6).log()
    return (log_prior - log_prior.mean()).float()  # softmax ignores a constant: keep the bias centred


def final_layer(model: nn.Module, size: int) -> nn.Module | None:
    """The last module (in registration order) with a 1-D bias of `size` entries: the output layer."""
    found = None
    for module in model.modules():
        bias = getattr(module, "bias", None)
        if isinstance(bias, torch.Tensor) and bias.dim() == 1 and bias.numel() == size:
            found = module
    return found


def init_final_bias(model: nn.Module, data: Any, *, task: str | None = None) -> nn.Module:
    """Set the final layer's bias to the data's prior, in place, and return the model.

    `data` is an `Experiment`, a Dataset of (input, target) pairs or a tensor of targets (`task` is inferred
    when not given). Classification and sequences get the log class (token) frequencies, regression the
    target mean. Raises ValueError when the model has no output layer with a bias of the right size.
    """
    targets, task, classes = _targets_and_task(data, task)
    size = classes if classes is not None else targets[0].numel()
    last = final_layer(model, size)
    if last is None and classes == 2 and final_layer(model, 1) is not None:
        _init_binary_logit(final_layer(model, 1), targets)  # type: ignore[arg-type]
        return model
    if last is None:
        raise ValueError(f"init_final_bias: the model has no layer with a bias of {size} entries (the output size) "
                         "to set")
    bias: torch.Tensor = last.bias  # type: ignore[assignment]
    with torch.no_grad():
        bias.copy_(_prior_bias(targets, task, size).to(bias.device, bias.dtype))
    return model


def _init_binary_logit(layer: nn.Module, targets: torch.Tensor) -> nn.Module:
    """One logit for two classes: its bias starts at the log-odds of class 1."""
    labels = targets.reshape(-1).long()
    labels = labels[(labels == 0) | (labels == 1)]
    p = float(labels.double().mean().clamp(1e-6, 1 - 1e-6)) if len(labels) else 0.5
    bias: torch.Tensor = layer.bias  # type: ignore[assignment]
    with torch.no_grad():
        bias.fill_(math.log(p / (1 - p)))
    return layer


def with_fixed_init(experiment: Any) -> Any:
    """The experiment with its model factory wrapped so every fresh model starts with the prior as its bias."""
    original = experiment.model

    def factory() -> nn.Module:
        return init_final_bias(original(), experiment)

    setattr(factory, UNFIXED, original)
    # recorded so that a run's worker processes, which build the experiment again from its spec, fix it too
    return experiment.replace(model=factory, meta={**experiment.meta, "fix_init": True})


def _loss_at_init(ctx: ModelContext, x: torch.Tensor, y: torch.Tensor, factory: Callable[[], nn.Module],
                  fix: bool) -> float:
    model = ctx.fresh_model("init-bias", factory=factory)
    if fix:
        init_final_bias(model, ctx.experiment)
    # train mode, as the first training step sees it (see init-loss)
    with torch.no_grad(), mode(model, True):
        return float(ctx.loss_fn(forward(model, x), y))


@dataclass(frozen=True)
class InitBiasEvidence:
    #: the loss of a fresh model at init, and with its final bias set to the prior (with --fix-init: the user's
    #: own init, and the fixed one); None (shown as null) when the model has no final-layer bias to set
    loss_at_init_before: float
    loss_at_init_after: float | None
    #: whether --fix-init already set the bias, and whether the model has a final-layer bias to set
    fixed: bool
    fixable: bool
    #: the experiment's task (not measured under --fix-init)
    task: str | None = None


class InitBias(ModelCheck[InitBiasEvidence, InitBiasThresholds]):
    id = "init-bias"
    stage = "skeleton"
    title = "Final-layer bias starts at the data's prior"
    Thresholds = InitBiasThresholds

    def measure(self, ctx: ModelContext) -> InitBiasEvidence:
        x, y = ctx.batch(SAMPLES, "train", "init-bias")
        unfixed = getattr(ctx.experiment.model, UNFIXED, None)
        if unfixed is not None:  # --fix-init: compare the user's own init with the fixed one
            before = _loss_at_init(ctx, x, y, unfixed, fix=False)
            after = _loss_at_init(ctx, x, y, ctx.experiment.model, fix=False)
            return InitBiasEvidence(loss_at_init_before=before, loss_at_init_after=after, fixed=True, fixable=True)
        before = _loss_at_init(ctx, x, y, ctx.experiment.model, fix=False)
        try:
            after = _loss_at_init(ctx, x, y, ctx.experiment.model, fix=True)
        except ValueError:
            return InitBiasEvidence(loss_at_init_before=before, loss_at_init_after=None, fixed=False, fixable=False,
                                    task=ctx.task)
        return InitBiasEvidence(loss_at_init_before=before, loss_at_init_after=after, fixed=False, fixable=True,
                                task=ctx.task)

    def judge(self, e: InitBiasEvidence, t: InitBiasThresholds) -> Verdict:
        before, after = e.loss_at_init_before, e.loss_at_init_after
        if e.fixed:
            return Verdict("pass", f"--fix-init set the final bias to the prior: loss at init {before:.4g} -> {after:.4g}")
        if after is None:
            return Verdict("pass", f"loss at init {before:.4g}; the model has no final-layer bias to set to the prior")
        if not (math.isfinite(before) and math.isfinite(after)):
            return Verdict("warn", f"loss at init {before}, {after} with the bias set to the prior",
                           "a fresh model gives a non-finite loss: see init-loss")
        gain = (before - after) / abs(before) if before else 0.0
        numbers = {"relative_gain": gain}
        text = f"loss at init {before:.4g}, {after:.4g} with the final bias set to the prior ({-gain:+.0%})"
        if gain > t.gain_warn and e.task == "sequence":
            return Verdict("pass", f"{text}; a next-token model starts uniform by convention and learns the token "
                           "frequencies in its first steps", evidence=numbers)
        if gain > t.gain_warn:
            return Verdict("warn", text,
                           "init the final layer's bias to the prior (log class frequencies, or the target mean): "
                           "nnrecipe.init_final_bias(model, data) or `--fix-init`", evidence=numbers)
        return Verdict("pass", text, evidence=numbers)
