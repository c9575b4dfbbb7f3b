"""input-independent: "train an input-independent baseline" — the same model, the same short budget, on
zeroed inputs, must do clearly worse on validation than on the real inputs.

When it does not, the model extracts nothing from its input: labels shuffled apart from their inputs, an
input that never reaches the output (a detached or overwritten tensor), a preprocessing bug that wipes the
signal. A slow learner (a word-level language model under SGD learns the word frequencies first, which the
zeroed run learns too) can look the same after the short budget, so an inconclusive comparison is measured once
more over `EXTEND` times the steps before it is judged: a model that ignores its input stays where it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.skeleton._common import map_inputs
from nnrecipe.checks.skeleton.short_run import shared_short_run, shared_short_run_scores, train_short, val_subset
from nnrecipe.engine.data import loss_fn
from nnrecipe.engine.loop import Callback, evaluate, predict

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


def paired(real: torch.Tensor, zero: torch.Tensor) -> dict[str, float]:
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


class InputIndependent(Check):
    id = "input-independent"
    stage = "skeleton"
    title = "The model uses its input (vs. an input-independent baseline)"
    Thresholds = InputIndependentThresholds

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        real = shared_short_run_scores(ctx)
        zeroed = ctx.experiment.replace(train=map_inputs(ctx.experiment.train, torch.zeros_like))
        zero_ctx = type(ctx)(zeroed, device=ctx.device, seed=ctx.seed, budget=ctx.budget)
        val, zero_val = val_subset(ctx), map_inputs(val_subset(ctx), torch.zeros_like)
        # Same names as the shared run: the same initial weights and the same batches, only the inputs differ.
        run = train_short(zero_ctx, seed=ctx.derive("short-run"))
        zero = evaluate(run.model, zero_val, zeroed, device=ctx.device)
        # The shared run's starting point: a fresh model with the same initial weights, before any step.
        start = evaluate(ctx.fresh_model("short-run"), val, ctx.experiment, device=ctx.device)
        measured = {"real_inputs": real, "zero_inputs": zero, "untrained": start, "steps": len(run.history.step_losses)}
        if self.judge(measured, self.thresholds).status == "pass":
            return measured
        measured["paired"] = paired(per_sample_losses(shared_short_run(ctx).model, val, ctx.experiment, ctx.device),
                                    per_sample_losses(run.model, zero_val, zeroed, ctx.device))
        if self.judge(measured, self.thresholds).status == "pass":
            return measured
        steps = EXTEND * len(run.history.step_losses)
        best_real = _BestVal(val, ctx.experiment, ctx.device, every=max(1, steps // CHECKPOINTS))
        best_zero = _BestVal(zero_val, zeroed, ctx.device, every=max(1, steps // CHECKPOINTS))
        train_short(ctx, "input-independent", steps=steps, seed=ctx.derive("short-run"), callbacks=[best_real])
        train_short(zero_ctx, "input-independent", steps=steps, seed=ctx.derive("short-run"), callbacks=[best_zero])
        start_longer = evaluate(ctx.fresh_model("short-run", "input-independent"), val, ctx.experiment,
                                device=ctx.device)
        return {"real_inputs": best_real.best, "zero_inputs": best_zero.best, "untrained": start_longer,
                "steps": steps, "best_of": CHECKPOINTS, "paired": paired(best_real.losses, best_zero.losses),
                "short_run": measured}

    def judge(self, m: Mapping[str, Any], t: InputIndependentThresholds) -> Verdict:
        real, zero = m["real_inputs"]["loss"], m["zero_inputs"]["loss"]
        gain = (zero - real) / abs(zero) if zero else 0.0
        learned = m["untrained"]["loss"] - real if "untrained" in m else 0.0
        share = (zero - real) / learned if learned > 0 else 0.0  # of what the run learned, how much came from x
        z = m.get("paired", {}).get("z")
        numbers = {"relative_gain": gain, "input_share": share, **({"z": z} if z is not None else {})}
        text = (f"validation loss after {m.get('steps', 'a short run of')} steps {real:.4g} on the real inputs vs "
                f"{zero:.4g} on zeroed inputs")
        fix = ("the model learns nothing from its input: check that inputs and labels stay paired (shuffled "
               "together, not apart), that the input reaches the output (no detach, no overwritten tensor), and "
               "that preprocessing keeps the signal")
        beyond_noise = z is not None and z >= t.z
        if real != real:  # NaN compares unequal to itself
            return Verdict("fail", f"{text}: the real-input run diverged", fix, evidence=numbers)
        if gain < t.fail_below:
            if beyond_noise and gain > 0:
                return Verdict("warn", f"{text}: the input helps, beyond noise (z {z:.1f}), but by only {gain:.1%}",
                               fix, evidence=numbers)
            return Verdict("fail", f"{text}: the input does not help ({-gain:+.1%})", fix, evidence=numbers)
        if gain >= t.warn_below:
            return Verdict("pass", f"{text} ({-gain:+.0%})", evidence=numbers)
        if beyond_noise:
            return Verdict("pass", f"{text} ({-gain:+.1%}); small, but lower on the samples one by one by {z:.1f} "
                           "standard errors: the model uses its input", evidence=numbers)
        if share >= t.input_share:
            return Verdict("pass", f"{text} ({-gain:+.1%}); small, but {share:.0%} of what the short run learned came "
                           "from the input", evidence=numbers)
        noise = (f"; per sample {z:.1f} standard errors on {m['paired']['samples']} validation samples, short of "
                 f"{t.z:g}" if z is not None else "")
        return Verdict("warn", f"{text}: the input helps only a little ({-gain:+.1%}{noise})", fix, evidence=numbers)
