"""overfit-one-batch: "overfit a single batch of only a few examples" to the lowest achievable loss.

A correct model and optimizer drive a handful of examples to (almost) zero loss with predictions equal to
the labels. When they cannot, something is broken: a softmax before the cross-entropy, a clamped loss, a
learning rate far off, gradients that do not reach the parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.data import make_optimizer
from nnrecipe.engine.loop import accuracy, mode, predicted_classes, standard_step
from nnrecipe.engine.outputs import forward
from nnrecipe.results import Status

EXAMPLES = {"classification": 16, "regression": 16, "sequence": 4}
MAX_STEPS = {"quick": 300, "default": 500, "long": 1500}
CHECK_EVERY = 25
# While the loss is still falling at MAX_STEPS, keep going up to this multiple: a correct model at a small
# learning rate (Adam 3e-4, the recipe's default) can need more than a few hundred steps to reach ~0.
EXTEND = 3


@dataclass(frozen=True)
class OverfitOneBatchThresholds:
    #: fit when the loss falls to this fraction of its starting value ...
    relative_loss: float = 0.05
    #: ... or below this absolute value (classification and sequences)
    absolute_loss: float = 0.05
    #: and, for classification and sequences, at least this share of predictions equals the labels
    accuracy: float = 1.0
    #: regression: fit when R^2 on the batch reaches this
    r2: float = 0.95
    #: also a pass: every prediction right, the loss below this fraction of its start and still falling
    #: (on its way to zero at a small learning rate); a softmax before the cross-entropy plateaus far above it
    on_its_way: float = 0.25
    #: "still falling": the loss fell below this fraction of where it stood a quarter of the run earlier
    falling_ratio: float = 0.8
    #: a low loss with fewer than this share of the achievable predictions right means the loss and the
    #: predictions disagree (fail); with more, a few stubborn examples remain (warn)
    low_loss_wrong: float = 0.5


def _fit_state(out: torch.Tensor, y: torch.Tensor, loss: float, task: str, ignore: int | None) -> dict[str, float]:
    if task == "regression":
        resid = ((out.reshape(y.shape) - y) ** 2).mean()
        total = ((y - y.mean()) ** 2).mean().clamp_min(1e-12)
        return {"loss": loss, "r2": float(1 - resid / total)}
    return {"loss": loss, "accuracy": accuracy(out, y, ignore)}


def achievable_accuracy(x: torch.Tensor, y: torch.Tensor, task: str, ignore: int | None) -> float:
    """The best share of labelled targets any model can get right on this batch: where the same input (for
    sequences, the same prefix x[:t+1], all a causal model sees) carries different targets, only one can be
    predicted. Next-token batches have such positions (a window's first tokens); a perfect fit misses them."""
    keys: dict[tuple[Any, ...], dict[int, int]] = {}
    rows = x.reshape(len(x), -1).tolist()
    for i, row in enumerate(rows):
        targets = y[i].reshape(-1).tolist()
        positions = range(len(targets)) if task == "sequence" else [0]
        for t in positions:
            if ignore is not None and targets[t] == ignore:
                continue
            key = (t, *row[: t + 1]) if task == "sequence" else tuple(row)
            counts = keys.setdefault(key, {})
            counts[targets[t]] = counts.get(targets[t], 0) + 1
    total = sum(sum(c.values()) for c in keys.values())
    return sum(max(c.values()) for c in keys.values()) / total if total else 1.0


def _is_fit(state: Mapping[str, float], start: float, task: str, t: OverfitOneBatchThresholds,
            best: float = 1.0) -> bool:
    if not math.isfinite(state["loss"]):
        return False
    if task == "regression":
        return state["r2"] >= t.r2
    low = state["loss"] <= max(t.absolute_loss, t.relative_loss * start)
    return low and state["accuracy"] >= t.accuracy * best - 1e-9


def _still_falling(curve: list[float], t: OverfitOneBatchThresholds) -> bool:
    k = max(1, len(curve) // 4)
    return len(curve) > k and math.isfinite(curve[-1]) and curve[-1] < t.falling_ratio * curve[-k - 1]


def _on_its_way(state: Mapping[str, float], start: float, falling: bool, task: str, t: OverfitOneBatchThresholds,
                best: float = 1.0) -> bool:
    if task == "regression" or not falling:
        return False
    return state["accuracy"] >= t.accuracy * best - 1e-9 and state["loss"] <= t.on_its_way * start


def _predictions(out: torch.Tensor, y: torch.Tensor, task: str) -> list[Any]:
    if task == "regression":
        return out.reshape(len(out), -1)[:, 0].tolist()
    if task == "sequence":
        return predicted_classes(out, y)[:, :32].tolist()
    return predicted_classes(out, y).tolist()


class OverfitOneBatch(Check):
    id = "overfit-one-batch"
    stage = "skeleton"
    title = "Overfit one batch"
    Thresholds = OverfitOneBatchThresholds

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        task = ctx.task
        x, y = ctx.batch(EXAMPLES[task], "train", "overfit-one-batch")
        model = ctx.fresh_model("overfit-one-batch")
        optimizer = make_optimizer(ctx.experiment, model.parameters())
        step = ctx.experiment.train_step or standard_step(ctx.loss_fn)

        ignore = ctx.ignore_index
        best = achievable_accuracy(x, y, task, ignore) if task != "regression" else 1.0

        def observe() -> tuple[torch.Tensor, dict[str, float]]:
            with torch.no_grad(), mode(model, False):
                out = forward(model, x)
                return out, _fit_state(out, y, float(ctx.loss_fn(out, y)), task, ignore)

        start_out, start = observe()
        curve, end_out, end, steps = [start["loss"]], start_out, start, 0
        max_steps = MAX_STEPS.get(ctx.budget, MAX_STEPS["default"])
        t = self.thresholds
        with mode(model, True):
            while steps < max_steps or (steps < EXTEND * max_steps and _still_falling(curve, t)):
                for _ in range(CHECK_EVERY):
                    step(model, (x, y), optimizer)
                steps += CHECK_EVERY
                end_out, end = observe()
                curve.append(end["loss"])
                if not math.isfinite(end["loss"]) or _is_fit(end, start["loss"], task, t, best):
                    break
        return {
            "examples": len(y),
            "steps": steps,
            "start": start,
            "end": end,
            "task": task,
            "achievable_accuracy": best,
            "still_falling": _still_falling(curve, t),
            "_artifacts": {
                "labels": y.reshape(len(y), -1)[:, :32].tolist() if task == "sequence" else y.reshape(len(y), -1)[:, 0].tolist(),
                "predictions_start": _predictions(start_out, y, task),
                "predictions_end": _predictions(end_out, y, task),
                "loss_curve": curve,
                "check_every": CHECK_EVERY,
            },
        }

    def judge(self, m: Mapping[str, Any], t: OverfitOneBatchThresholds) -> Verdict:
        start, end, task = m["start"], m["end"], m["task"]
        n, steps = m["examples"], m["steps"]
        best = m.get("achievable_accuracy", 1.0)
        fitted = _is_fit(end, start["loss"], task, t, best)
        score = f"R^2 {end['r2']:.3f}" if task == "regression" else _accuracy_text(end["accuracy"], best)
        where = f"{n} examples, {steps} steps: loss {start['loss']:.3g} -> {end['loss']:.3g}, {score}"
        if fitted:
            return Verdict("pass", f"overfit one batch of {where}")
        if _on_its_way(end, start["loss"], m.get("still_falling", False), task, t, best):
            return Verdict("pass", f"overfit one batch of {where}; the loss is still falling towards zero")
        if task != "regression" and end["loss"] <= max(t.absolute_loss, t.relative_loss * start["loss"]):
            status: Status = "fail" if end["accuracy"] < t.low_loss_wrong * best else "warn"
            return Verdict(status, f"the loss on one batch fell low but predictions stay wrong ({where})",
                           "a low loss with wrong predictions: the loss is not reading the outputs the model "
                           "predicts with (a loss over other positions or classes than the metric, labels shifted)")
        if not math.isfinite(end["loss"]):
            return Verdict("fail", f"could not overfit one batch: the loss turned {end['loss']} ({where})",
                           "the optimization diverges on a handful of examples: lower the learning rate, look for "
                           "NaN/Inf in the inputs, a log of zero or a division by a tiny number")
        if end["loss"] >= 0.9 * start["loss"]:
            return Verdict("fail", f"could not overfit one batch: the loss barely moved ({where})",
                           "nothing is being learned: check the learning rate (too low or far too high), that the "
                           "loss is not clamped or detached, and that the optimizer holds the model's parameters")
        return Verdict("fail", f"could not overfit one batch: the loss plateaus above zero ({where})",
                       "the model cannot represent even these few labels: look for a softmax/sigmoid before a "
                       "cross-entropy that expects logits, labels shuffled apart from inputs, a bottleneck that "
                       "drops the input, or raise the learning rate")


def _accuracy_text(acc: float, best: float) -> str:
    text = f"{_percent(acc)} of predictions match the labels"
    return text if best >= 1.0 else f"{text} (at most {_percent(best)} can: some inputs repeat with other labels)"


def _percent(share: float) -> str:
    """A share that never rounds up to 100% (or down to 0%) when it is not."""
    text = f"{share:.0%}"
    if (text == "100%" and share < 1.0) or (text == "0%" and share > 0.0):
        text = f"{share:.2%}"
    return text
