"""input-independent: "train an input-independent baseline" — the same model, the same short budget, on
zeroed inputs, must do clearly worse on validation than on the real inputs.

When it does not, the model extracts nothing from its input: labels shuffled apart from their inputs, an
input that never reaches the output (a detached or overwritten tensor), a preprocessing bug that wipes the
signal. A slow learner (a word-level language model under SGD learns the word frequencies first, which the
zeroed run learns too) can look the same after the short budget, so an inconclusive comparison is measured once
more over `EXTEND` times the steps before it is judged: a model that ignores its input stays where it was.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypedDict

import torch

from nnrecipe.checks.base import ModelCheck, Verdict, document_evidence
from nnrecipe.checks.context import CheckContext, ModelContext
from nnrecipe.checks.skeleton._common import map_inputs
from nnrecipe.checks.skeleton.short_run import shared_short_run, shared_short_run_scores, train_short, val_subset
from nnrecipe.engine.data import loss_fn
from nnrecipe.engine.loop import Callback, evaluate, predict
from nnrecipe.experiment import Experiment

#: an inconclusive short-run comparison is measured again over this many times the steps, each run scored by its
#: best of this many evenly spaced validation checkpoints (a small dataset's model can overfit within the longer
#: run, and its final validation loss would then read as "the input does not help")
EXTEND = 3
CHECKPOINTS = 6
#: validation samples whose losses are compared one by one (real inputs against zeroed inputs)
PAIRED = 512


@dataclass(frozen=True)
class InputIndependentThresholds:
    #: fail when the real inputs lower the validation loss by less than this fraction of the zero-input loss
    fail_below: float = 0.02
    #: warn below this fraction, unless the input accounts for at least `input_share` of what the short run
    #: learned at all (a correct model at a small learning rate learns slowly, but much of it from its input;
    #: a model that ignores its input sits near 0, since without the input only the class prior is learnable),
    #: or the per-sample losses show the gain beyond noise: at least `z` standard errors over PAIRED samples (a
    #: language model early in training gains a few percent over the unigram prior, on every sample)
    warn_below: float = 0.10
    input_share: float = 0.3
    z: float = 4.0


def per_sample_losses(model: torch.nn.Module, ds: Any, exp: Any, device: torch.device) -> torch.Tensor:
    """The experiment's loss on each of the first PAIRED samples of `ds`, one by one (NaN-free)."""
    n = min(len(ds), PAIRED)
    outputs, targets = predict(model, torch.utils.data.Subset(ds, range(n)), device=device)
    loss = loss_fn(exp)
    with torch.no_grad():
        values = torch.tensor([float(loss(outputs[i : i + 1], targets[i : i + 1])) for i in range(n)])
    return values


class Paired(TypedDict):
    """Per-sample validation losses compared one by one, real inputs against zeroed inputs."""

    #: the mean of (zeroed-input loss - real-input loss), and that mean in standard errors
    mean_gain: float
    z: float
    #: the samples with both losses finite
    samples: int


def paired(real: torch.Tensor, zero: torch.Tensor) -> Paired:
    """How much lower each sample's loss is with its input, on average, in standard errors of that mean."""
    keep = torch.isfinite(real) & torch.isfinite(zero)
    diff = (zero - real)[keep].double()
    if len(diff) < 2:
        return {"mean_gain": float("nan"), "z": 0.0, "samples": len(diff)}
    se = float(diff.std() / len(diff) ** 0.5)
    mean = float(diff.mean())
    return {"mean_gain": mean, "z": mean / se if se > 0 else 0.0, "samples": len(diff)}


class _BestVal(Callback):
    """The best validation scores (by loss) of a run, sampled every `every` steps, with that checkpoint's
    per-sample losses."""

    def __init__(self, ds: Any, exp: Any, device: torch.device, *, every: int) -> None:
        self.ds, self.exp, self.device, self.every = ds, exp, device, every
        self.model: torch.nn.Module | None = None
        self.best: dict[str, float] = {"loss": float("inf")}
        self.losses = torch.empty(0)

    def on_train_start(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model = model

    def on_step_end(self, step: int, loss: torch.Tensor, batch: Any) -> None:
        if (step + 1) % self.every == 0 and self.model is not None:
            scores = evaluate(self.model, self.ds, self.exp, device=self.device)
            if not scores["loss"] >= self.best["loss"]:  # lower, or the first finite one
                self.best = scores
                self.losses = per_sample_losses(self.model, self.ds, self.exp, self.device)


@dataclass(frozen=True)
class InputIndependentEvidence:
    #: validation scores (loss and the task's metrics) of the run on real inputs, of the same run on zeroed
    #: inputs, and of its starting point before any step; after a longer run, each run's best checkpoint
    real_inputs: dict[str, float]
    zero_inputs: dict[str, float]
    untrained: dict[str, float]
    #: the training steps of each run
    steps: int
    #: after a longer run: the validation checkpoints each run was scored by the best of
    best_of: int | None = None
    #: the per-sample comparison, measured when the short run alone was inconclusive
    paired: Paired | None = None
    #: after a longer run: the short run's evidence, as documented
    short_run: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Zeroed:
    """The experiment with zeroed training inputs, a context on it, and the validation subset, real and zeroed."""

    experiment: Experiment
    ctx: CheckContext
    val: Any
    zero_val: Any


def _zeroed(ctx: ModelContext) -> _Zeroed:
    zeroed = ctx.experiment.replace(train=map_inputs(ctx.experiment.train, torch.zeros_like))
    zero_ctx = CheckContext(zeroed, device=ctx.device, seed=ctx.seed, budget=ctx.budget)
    return _Zeroed(zeroed, zero_ctx, val_subset(ctx), map_inputs(val_subset(ctx), torch.zeros_like))


class InputIndependent(ModelCheck[InputIndependentEvidence, InputIndependentThresholds]):
    id = "input-independent"
    stage = "skeleton"
    title = "The model uses its input (vs. an input-independent baseline)"
    Thresholds = InputIndependentThresholds

    def measure(self, ctx: ModelContext) -> InputIndependentEvidence:
        real = shared_short_run_scores(ctx)
        z = _zeroed(ctx)
        # Same names as the shared run: the same initial weights and the same batches, only the inputs differ.
        run = train_short(z.ctx, seed=ctx.derive("short-run"))
        zero = evaluate(run.model, z.zero_val, z.experiment, device=ctx.device)
        # The shared run's starting point: a fresh model with the same initial weights, before any step.
        start = evaluate(ctx.fresh_model("short-run"), z.val, ctx.experiment, device=ctx.device)
        short = InputIndependentEvidence(real_inputs=real, zero_inputs=zero, untrained=start,
                                         steps=len(run.history.step_losses))
        if self.judge(short, self.thresholds).status == "pass":
            return short
        short = dataclasses.replace(short, paired=paired(
            per_sample_losses(shared_short_run(ctx).model, z.val, ctx.experiment, ctx.device),
            per_sample_losses(run.model, z.zero_val, z.experiment, ctx.device)))
        if self.judge(short, self.thresholds).status == "pass":
            return short
        return _longer_comparison(ctx, z, short)

    def judge(self, e: InputIndependentEvidence, t: InputIndependentThresholds) -> Verdict:
        real, zero = e.real_inputs["loss"], e.zero_inputs["loss"]
        gain = (zero - real) / abs(zero) if zero else 0.0
        learned = e.untrained["loss"] - real
        share = (zero - real) / learned if learned > 0 else 0.0  # of what the run learned, how much came from x
        z = e.paired["z"] if e.paired is not None else None
        numbers = {"relative_gain": gain, "input_share": share, **({"z": z} if z is not None else {})}
        text = (f"validation loss after {e.steps} steps {real:.4g} on the real inputs vs {zero:.4g} on zeroed "
                "inputs")
        if real != real:  # NaN compares unequal to itself
            return Verdict("fail", f"{text}: the real-input run diverged", _FIX, evidence=numbers)
        beyond_noise = z is not None and z >= t.z
        if gain < t.fail_below:
            if beyond_noise and gain > 0:
                return Verdict("warn", f"{text}: the input helps, beyond noise (z {z:.1f}), but by only {gain:.1%}",
                               _FIX, evidence=numbers)
            return Verdict("fail", f"{text}: the input does not help ({-gain:+.1%})", _FIX, evidence=numbers)
        return _small_gain(e, t, text, gain, share, z, numbers)


_FIX = ("the model learns nothing from its input: check that inputs and labels stay paired (shuffled together, not "
        "apart), that the input reaches the output (no detach, no overwritten tensor), and that preprocessing keeps "
        "the signal")


def _small_gain(e: InputIndependentEvidence, t: InputIndependentThresholds, text: str, gain: float, share: float,
                z: float | None, numbers: dict[str, float]) -> Verdict:
    """The verdict on a gain at least `fail_below`: a pass when large, or small but beyond noise, or most of what
    the run learned; else a warn."""
    if gain >= t.warn_below:
        return Verdict("pass", f"{text} ({-gain:+.0%})", evidence=numbers)
    if z is not None and z >= t.z:
        return Verdict("pass", f"{text} ({-gain:+.1%}); small, but lower on the samples one by one by {z:.1f} "
                       "standard errors: the model uses its input", evidence=numbers)
    if share >= t.input_share:
        return Verdict("pass", f"{text} ({-gain:+.1%}); small, but {share:.0%} of what the short run learned came "
                       "from the input", evidence=numbers)
    noise = (f"; per sample {z:.1f} standard errors on {e.paired['samples']} validation samples, short of "
             f"{t.z:g}" if z is not None and e.paired is not None else "")
    return Verdict("warn", f"{text}: the input helps only a little ({-gain:+.1%}{noise})", _FIX, evidence=numbers)


def _longer_comparison(ctx: ModelContext, z: _Zeroed, short: InputIndependentEvidence) -> InputIndependentEvidence:
    """The comparison once more over EXTEND times the steps, each run scored by its best validation checkpoint."""
    steps = EXTEND * short.steps
    best_real = _BestVal(z.val, ctx.experiment, ctx.device, every=max(1, steps // CHECKPOINTS))
    best_zero = _BestVal(z.zero_val, z.experiment, ctx.device, every=max(1, steps // CHECKPOINTS))
    train_short(ctx, "input-independent", steps=steps, seed=ctx.derive("short-run"), callbacks=[best_real])
    train_short(z.ctx, "input-independent", steps=steps, seed=ctx.derive("short-run"), callbacks=[best_zero])
    start_longer = evaluate(ctx.fresh_model("short-run", "input-independent"), z.val, ctx.experiment,
                            device=ctx.device)
    return InputIndependentEvidence(real_inputs=best_real.best, zero_inputs=best_zero.best, untrained=start_longer,
                                    steps=steps, best_of=CHECKPOINTS, paired=paired(best_real.losses, best_zero.losses),
                                    short_run=document_evidence(short))
