"""overfit-one-batch: "overfit a single batch of only a few examples" to the lowest achievable loss.

A correct model and optimizer drive a handful of examples to (almost) zero loss with predictions equal to
the labels. When they cannot, something is broken: a softmax before the cross-entropy, a clamped loss, a
learning rate far off, gradients that do not reach the parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nnrecipe.checks.base import ModelCheck, Verdict, picture
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.data import Batch, LossFn, make_optimizer
from nnrecipe.engine.loop import accuracy, mode, predicted_classes, standard_step
from nnrecipe.engine.outputs import forward, output_space
from nnrecipe.results import Status

EXAMPLES = {"classification": 16, "regression": 16, "sequence": 4}
MAX_STEPS = {"quick": 300, "default": 500, "long": 1500}
CHECK_EVERY = 25
#: optimizer steps spent finding the lowest loss any model can reach on the batch (free outputs, convex)
FLOOR_STEPS = 200
# While the loss is still falling at MAX_STEPS, keep going up to this multiple: a correct model at a small
# learning rate (Adam 3e-4, the recipe's default) can need more than a few hundred steps to reach ~0.
EXTEND = 3


@dataclass(frozen=True)
class OverfitOneBatchThresholds:
    #: fit when the loss falls to within this fraction of the way from the lowest achievable loss (zero for a
    #: plain cross-entropy on unambiguous labels) to its start ...
    relative_loss: float = 0.05
    #: ... or within this absolute margin of the lowest achievable loss (classification and sequences)
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
    #: a loss that would reach the lowest achievable loss within this many times the steps run, at the pace of
    #: the run's last quarter, is slow rather than stuck (a pass that says so, not a fail)
    slow_horizon: float = 4.0
    #: a low loss with fewer than this share of the achievable predictions right means the loss and the
    #: predictions disagree (fail); with more, a few stubborn examples remain (warn)
    low_loss_wrong: float = 0.5


def _fit_state(out: torch.Tensor, y: torch.Tensor, loss: float, task: str, ignore: int | None) -> dict[str, float]:
    if task == "regression":
        resid = ((out.reshape(y.shape) - y) ** 2).mean()
        total = ((y - y.mean()) ** 2).mean().clamp_min(1e-12)
        return {"loss": loss, "r2": float(1 - resid / total)}
    return {"loss": loss, "accuracy": accuracy(out, y, ignore)}


def position_groups(x: torch.Tensor, y: torch.Tensor, task: str, ignore: int | None) -> tuple[torch.Tensor, int]:
    """A group id per target position (-1 where the target is the ignore index): positions with the same input
    (for sequences, the same prefix x[:t+1], all a causal model sees at t) share a group, since any model must
    give them the same output."""
    ids: dict[tuple[Any, ...], int] = {}
    groups = torch.full(y.shape, -1, dtype=torch.long)
    rows = x.reshape(len(x), -1).tolist()
    for i, row in enumerate(rows):
        targets = y[i].reshape(-1).tolist()
        for t in range(len(targets)) if task == "sequence" else [0]:
            if ignore is not None and targets[t] == ignore:
                continue
            key = (t, *row[: t + 1]) if task == "sequence" else tuple(row)
            gid = ids.setdefault(key, len(ids))
            if task == "sequence":
                groups[i, t] = gid
            else:
                groups[i] = gid
    return groups, len(ids)


def achievable_accuracy(y: torch.Tensor, groups: torch.Tensor) -> float:
    """The best share of labelled targets any model can get right on this batch: within a group of positions
    that see the same input only the most frequent target can be predicted (a window's first tokens, names that
    all start from the same start token)."""
    keep = groups >= 0
    if not bool(keep.any()):
        return 1.0
    pairs = torch.stack([groups[keep], y[keep].long()], 1)
    _, counts = torch.unique(pairs, dim=0, return_counts=True)
    group_of = torch.unique(pairs, dim=0)[:, 0]
    best = torch.zeros(int(groups.max()) + 1, dtype=torch.long).scatter_reduce(0, group_of, counts, "amax")
    return float(best.sum()) / int(keep.sum())


def loss_floor(loss: Any, y: torch.Tensor, groups: torch.Tensor, n_groups: int, out_shape: torch.Size,
               space: str, steps: int = FLOOR_STEPS) -> float:
    """The lowest loss any model can reach on this batch with this loss: one free output per group, optimized.
    It is zero for a plain cross-entropy on unambiguous labels, and above zero with label smoothing or with
    positions whose input does not decide their target ("verify that we can reach the lowest achievable loss")."""
    if n_groups == 0:
        return 0.0
    width = out_shape[-1] if len(out_shape) > groups.dim() else 1
    free = torch.zeros(n_groups + 1, width, requires_grad=True)  # the last row stands for ignored positions
    optimizer = torch.optim.Adam([free], lr=0.5)
    index = torch.where(groups >= 0, groups, n_groups).to(free.device)
    # Free logits, whatever the model's last layer does: a softmax before a cross-entropy caps what the model can
    # reach, and that cap is the bug, not the floor. Only log-probabilities are kept normalized (an nll_loss on
    # free logits has no floor at all); a log_softmax can represent any distribution.
    normalize = space == "log-probabilities"
    value = float("nan")
    with torch.enable_grad():
        for _ in range(steps):
            out = (free.log_softmax(-1) if normalize else free)[index].reshape(out_shape)
            current = loss(out, y)
            optimizer.zero_grad()
            current.backward()
            optimizer.step()
            value = float(current.detach())
    return max(value, 0.0) if math.isfinite(value) else 0.0


def _is_fit(state: Mapping[str, float], start: float, task: str, t: OverfitOneBatchThresholds,
            best: float = 1.0, floor: float = 0.0) -> bool:
    if not math.isfinite(state["loss"]):
        return False
    if task == "regression":
        return state["r2"] >= t.r2
    return _low(state["loss"], start, floor, t) and state["accuracy"] >= t.accuracy * best - 1e-9


def _low(loss: float, start: float, floor: float, t: OverfitOneBatchThresholds, share: float | None = None) -> bool:
    """Near the lowest achievable loss: within the absolute margin of it, or a small share of the way from it to
    where the loss started."""
    share = t.relative_loss if share is None else share
    return loss <= floor + max(t.absolute_loss, share * max(start - floor, 0.0))


def _still_falling(curve: list[float], t: OverfitOneBatchThresholds) -> bool:
    k = max(1, len(curve) // 4)
    return len(curve) > k and math.isfinite(curve[-1]) and curve[-1] < t.falling_ratio * curve[-k - 1]


def _on_its_way(state: Mapping[str, float], start: float, falling: bool, task: str, t: OverfitOneBatchThresholds,
                best: float = 1.0, floor: float = 0.0) -> bool:
    if not falling or not math.isfinite(state["loss"]):
        return False
    if task == "regression":  # a bounded-gradient loss (Huber, smooth L1) falls steadily, not geometrically
        return state["loss"] <= t.on_its_way * start and state["r2"] > 0
    return state["accuracy"] >= t.accuracy * best - 1e-9 and _low(state["loss"], start, floor, t, t.on_its_way)


def projected_steps(curve: list[float], floor: float, check_every: int) -> float | None:
    """At the pace of the last quarter of the run, how many more steps the loss needs to reach the lowest
    achievable loss: a loss that falls steadily (a Huber loss with large residuals falls by a constant amount per
    step) is slow, not stuck. None when it does not fall."""
    k = max(1, len(curve) // 4)
    if len(curve) <= k or not all(math.isfinite(v) for v in curve[-k - 1:]):
        return None
    pace = (curve[-k - 1] - curve[-1]) / (k * check_every)  # loss per step
    return (curve[-1] - floor) / pace if pace > 0 else None


def _predictions(out: torch.Tensor, y: torch.Tensor, task: str) -> list[Any]:
    if task == "regression":
        return out.reshape(len(out), -1)[:, 0].tolist()
    if task == "sequence":
        return predicted_classes(out, y)[:, :32].tolist()
    return predicted_classes(out, y).tolist()


@dataclass(frozen=True)
class OverfitOneBatchEvidence:
    #: the examples in the batch, and the optimizer steps run on it
    examples: int
    steps: int
    #: the batch's loss and accuracy (R^2, for regression) at the start and at the end
    start: dict[str, float]
    end: dict[str, float]
    task: str
    #: the best accuracy and the lowest loss any model can reach on this batch (inputs that repeat with other
    #: labels, label smoothing)
    achievable_accuracy: float
    lowest_achievable_loss: float
    #: whether the loss still fell over the run's last quarter
    still_falling: bool
    #: at the pace of the last quarter, the steps still needed to reach the lowest loss; None (shown as null) when
    #: the loss does not fall
    projected_steps: float | None
    #: for the report: labels and predictions at the start and the end (the first 32 positions of sequences), the
    #: loss every `check_every` steps
    labels: list[Any] = picture()
    predictions_start: list[Any] = picture()
    predictions_end: list[Any] = picture()
    loss_curve: list[float] = picture()
    check_every: int = picture()


@dataclass(frozen=True)
class _Batch:
    """A fresh model on one small batch, and how its fit is scored."""

    model: nn.Module
    x: torch.Tensor
    y: torch.Tensor
    loss: LossFn
    task: str
    ignore: int | None

    def observe(self) -> tuple[torch.Tensor, dict[str, float]]:
        """The model's outputs on the batch (in eval mode), and their loss and accuracy (R^2)."""
        with torch.no_grad(), mode(self.model, False):
            out = forward(self.model, self.x)
            return out, _fit_state(out, self.y, float(self.loss(out, self.y)), self.task, self.ignore)


@dataclass(frozen=True)
class _Run:
    """The overfitting run: the loss every CHECK_EVERY steps, and the outputs and scores where it stopped."""

    curve: list[float]
    end_out: torch.Tensor
    end: dict[str, float]
    steps: int


def _lowest_loss(ctx: ModelContext, b: _Batch, groups: torch.Tensor, n_groups: int, start_out: torch.Tensor) -> float:
    space = output_space(start_out, b.task, ctx.num_classes)
    try:
        return loss_floor(b.loss, b.y.cpu(), groups, n_groups, start_out.shape, space)
    except Exception:  # a loss that only takes the model's own outputs: measure against zero
        return 0.0


def _overfit(b: _Batch, step: Callable[[nn.Module, Batch, torch.optim.Optimizer], Any],
             optimizer: torch.optim.Optimizer, start_out: torch.Tensor, start: dict[str, float], max_steps: int,
             t: OverfitOneBatchThresholds, best: float, floor: float) -> _Run:
    """Steps on the batch, CHECK_EVERY at a time, until it is fit, the loss turns non-finite, or the budget is spent
    (extended up to EXTEND times while the loss still falls)."""
    curve, end_out, end, steps = [start["loss"]], start_out, start, 0
    with mode(b.model, True):
        while steps < max_steps or (steps < EXTEND * max_steps and _still_falling(curve, t)):
            for _ in range(CHECK_EVERY):
                step(b.model, (b.x, b.y), optimizer)
            steps += CHECK_EVERY
            end_out, end = b.observe()
            curve.append(end["loss"])
            if not math.isfinite(end["loss"]) or _is_fit(end, start["loss"], b.task, t, best, floor):
                break
    return _Run(curve, end_out, end, steps)


def _labels(y: torch.Tensor, task: str) -> list[Any]:
    rows = y.reshape(len(y), -1)
    return rows[:, :32].tolist() if task == "sequence" else rows[:, 0].tolist()


class OverfitOneBatch(ModelCheck[OverfitOneBatchEvidence, OverfitOneBatchThresholds]):
    id = "overfit-one-batch"
    stage = "skeleton"
    title = "Overfit one batch"
    Thresholds = OverfitOneBatchThresholds

    def measure(self, ctx: ModelContext) -> OverfitOneBatchEvidence:
        task = ctx.task
        x, y = ctx.batch(EXAMPLES[task], "train", "overfit-one-batch")
        model = ctx.fresh_model("overfit-one-batch")
        optimizer = make_optimizer(ctx.experiment, model.parameters())
        step = ctx.experiment.train_step or standard_step(ctx.loss_fn)
        b = _Batch(model, x, y, ctx.loss_fn, task, ctx.ignore_index)
        grouped = position_groups(x.cpu(), y.cpu(), task, b.ignore) if task != "regression" else None
        best = achievable_accuracy(y.cpu(), grouped[0]) if grouped is not None else 1.0
        start_out, start = b.observe()
        floor = _lowest_loss(ctx, b, *grouped, start_out) if grouped is not None else 0.0
        t = self.thresholds
        run = _overfit(b, step, optimizer, start_out, start, MAX_STEPS.get(ctx.budget, MAX_STEPS["default"]), t,
                       best, floor)
        return OverfitOneBatchEvidence(
            examples=len(y), steps=run.steps, start=start, end=run.end, task=task, achievable_accuracy=best,
            lowest_achievable_loss=floor, still_falling=_still_falling(run.curve, t),
            projected_steps=projected_steps(run.curve, floor, CHECK_EVERY),
            labels=_labels(y, task), predictions_start=_predictions(start_out, y, task),
            predictions_end=_predictions(run.end_out, y, task), loss_curve=run.curve, check_every=CHECK_EVERY,
        )

    def judge(self, e: OverfitOneBatchEvidence, t: OverfitOneBatchThresholds) -> Verdict:
        start, end, task = e.start["loss"], e.end, e.task
        best, floor = e.achievable_accuracy, e.lowest_achievable_loss
        score = f"R^2 {end['r2']:.3f}" if task == "regression" else _accuracy_text(end["accuracy"], best)
        where = f"{e.examples} examples, {e.steps} steps: loss {start:.3g} -> {end['loss']:.3g}, {score}"
        if floor > t.absolute_loss:
            where += f"; the lowest loss any model can reach on this batch is {floor:.3g}"
        if _is_fit(end, start, task, t, best, floor):
            return Verdict("pass", f"overfit one batch of {where}")
        if _on_its_way(end, start, e.still_falling, task, t, best, floor):
            return Verdict("pass", f"overfit one batch of {where}; the loss is still falling towards zero")
        if task != "regression" and _low(end["loss"], start, floor, t):
            status: Status = "fail" if end["accuracy"] < t.low_loss_wrong * best else "warn"
            return Verdict(status, f"the loss on one batch fell low but predictions stay wrong ({where})",
                           "a low loss with wrong predictions: the loss is not reading the outputs the model "
                           "predicts with (a loss over other positions or classes than the metric, labels shifted)")
        return _not_fit(e, t, where)


def _not_fit(e: OverfitOneBatchEvidence, t: OverfitOneBatchThresholds, where: str) -> Verdict:
    """The verdict on a batch that is not fit, nor on its way, nor at a low loss: diverged, slow, flat or stuck."""
    start, end = e.start["loss"], e.end["loss"]
    if not math.isfinite(end):
        return Verdict("fail", f"could not overfit one batch: the loss turned {end} ({where})",
                       "the optimization diverges on a handful of examples: lower the learning rate, look for "
                       "NaN/Inf in the inputs, a log of zero or a division by a tiny number")
    ahead = e.projected_steps
    if ahead is not None and ahead <= t.slow_horizon * e.steps and end < 0.9 * start:
        # Slow, not stuck: a loss with bounded gradients (Huber, smooth L1) on large residuals falls by a
        # constant amount per step. That it can fit is what this check verifies; the slowness has its own
        # findings (init-bias for targets far from zero, loss-decreases for a small learning rate).
        return Verdict("pass", f"the batch is not fit yet, but the loss falls steadily towards it: at its pace it "
                       f"needs about {ahead:.0f} more steps ({where})")
    if end >= 0.9 * start:
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
