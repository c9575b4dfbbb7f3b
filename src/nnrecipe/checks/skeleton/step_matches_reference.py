"""step-matches-reference: a custom `train_step` must apply the gradient the loss gives ("generalize a
special case": compare the special step with the standard one, from the same state).

At each of a few steps, the gradient of the experiment's loss on the same batch at the same parameters (same
dropout draws) is the reference. When the step calls `optimizer.step()`, the gradient it hands over is
compared with it (for a closure-driven optimizer such as LBFGS, the gradient the closure leaves): a missing
`zero_grad` adds up old gradients; a clipped loss gives none; accumulation without dividing by the number of
micro-batches scales it; gradient clipping only shrinks it, and passes. When the step updates the parameters
by hand (`p.data.add_(-lr * p.grad)`, no optimizer), the update itself is compared with gradient descent: it
must point downhill.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

import torch
from torch import nn

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import forward

STEPS = 3


@dataclass(frozen=True)
class StepMatchesReferenceThresholds:
    #: fail when the applied gradient's direction (cosine) differs from the reference's below this
    cosine: float = 0.95
    #: fail when it is more than this many times the reference's norm (clipping only shrinks it)
    norm_ratio: float = 1.5
    #: an applied gradient below this fraction of the reference's counts as none
    vanished: float = 1e-6
    #: a hand-written update whose cosine with the descent direction is at most this goes uphill (fail)
    uphill: float = 0.0


def _flat(tensors: list[torch.Tensor | None], params: list[nn.Parameter]) -> torch.Tensor:
    return torch.cat([(t if t is not None else torch.zeros_like(p)).reshape(-1).float()
                      for t, p in zip(tensors, params, strict=True)])


def _flat_grads(params: list[nn.Parameter]) -> torch.Tensor:
    return _flat([p.grad for p in params], params)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0, eps=1e-30))


class GradientRecord(TypedDict):
    """A step that called optimizer.step(): the gradient it handed over, against the loss's own."""

    kind: Literal["gradient"]
    #: cosine between the applied gradient and the reference, and the ratio of their norms
    cosine: float
    norm_ratio: float
    reference_norm: float


class UpdateRecord(TypedDict):
    """A step that updated the parameters by hand: the update, against the descent direction."""

    kind: Literal["update"]
    #: cosine between the update and minus the reference gradient, and the update's norm
    cosine: float
    moved: float
    reference_norm: float


StepRecord = GradientRecord | UpdateRecord


@dataclass(frozen=True)
class StepMatchesReferenceEvidence:
    #: the steps compared, and how many of them called optimizer.step()
    steps: int
    optimizer_steps: int
    per_step: list[StepRecord]


def _recording_step(optimizer: torch.optim.Optimizer, params: list[nn.Parameter],
                    applied: list[torch.Tensor]) -> Callable[..., Any]:
    """`optimizer.step`, recording into `applied` the gradient each call hands over (for a closure-driven optimizer
    such as LBFGS, the gradient its first closure evaluation leaves, at the step's starting parameters)."""
    original_step = optimizer.step

    def recording_step(closure: Callable[[], Any] | None = None, *args: Any, **kwargs: Any) -> Any:
        if closure is None:
            applied.append(_flat_grads(params))
            return original_step(*args, **kwargs)

        def first_evaluation_recorded() -> Any:  # LBFGS calls its closure several times; the first is at
            value = closure()  # the step's starting parameters
            if len(applied) == calls_before:
                applied.append(_flat_grads(params))
            return value

        calls_before = len(applied)
        return original_step(first_evaluation_recorded, *args, **kwargs)

    return recording_step


def _gradient_record(grad: torch.Tensor, ref: torch.Tensor) -> GradientRecord:
    return {"kind": "gradient", "cosine": _cosine(grad, ref),
            "norm_ratio": float(grad.norm() / ref.norm().clamp_min(1e-30)), "reference_norm": float(ref.norm())}


def _update_record(delta: torch.Tensor, ref: torch.Tensor) -> UpdateRecord:
    return {"kind": "update", "cosine": _cosine(-delta, ref), "moved": float(delta.norm()),
            "reference_norm": float(ref.norm())}


class StepMatchesReference(ModelCheck[StepMatchesReferenceEvidence, StepMatchesReferenceThresholds]):
    id = "step-matches-reference"
    stage = "skeleton"
    title = "A custom train_step matches the standard step"
    Thresholds = StepMatchesReferenceThresholds

    def applies(self, ctx: ModelContext) -> str | None:
        return None if ctx.experiment.train_step is not None else "no custom train_step: the standard step is used"

    def measure(self, ctx: ModelContext) -> StepMatchesReferenceEvidence:
        model = ctx.fresh_model("step-matches-reference")
        optimizer = ctx.optimizer(model)
        params = [p for p in model.parameters() if p.requires_grad]
        applied: list[torch.Tensor] = []
        optimizer.step = _recording_step(optimizer, params, applied)  # type: ignore[method-assign]
        step_fn = ctx.experiment.train_step
        assert step_fn is not None
        records: list[StepRecord] = []
        with mode(model, True):
            for i in range(STEPS):
                batch = ctx.batch(ctx.experiment.batch_size, "train", "step-matches-reference", i)
                rng = torch.random.get_rng_state()
                ref = self._reference(ctx, model, params, batch, rng)
                before = [p.detach().clone() for p in params]
                calls = len(applied)
                torch.random.set_rng_state(rng)
                step_fn(model, batch, optimizer)
                if len(applied) > calls:
                    records.append(_gradient_record(applied[calls], ref))
                else:
                    delta = _flat([p.detach() - b for p, b in zip(params, before, strict=True)], params)
                    records.append(_update_record(delta, ref))
        return StepMatchesReferenceEvidence(steps=STEPS, optimizer_steps=sum(r["kind"] == "gradient" for r in records),
                                            per_step=records)

    @staticmethod
    def _reference(ctx: ModelContext, model: nn.Module, params: list[nn.Parameter], batch: Any,
                   rng: torch.Tensor) -> torch.Tensor:
        """The loss's own gradient at the current parameters, under the random draws the step will see."""
        with torch.random.fork_rng(devices=[]):
            torch.random.set_rng_state(rng)
            x, y = batch
            grads = torch.autograd.grad(ctx.loss_fn(forward(model, x), y), params, allow_unused=True)
        return _flat(list(grads), params)

    def judge(self, e: StepMatchesReferenceEvidence, t: StepMatchesReferenceThresholds) -> Verdict:
        records = e.per_step
        for i, r in enumerate(records):
            verdict = _judge_update(i, r, t) if r["kind"] == "update" else _judge_gradient(i, r, t)
            if verdict is not None:
                return verdict
        by_hand = [r for r in records if r["kind"] == "update"]
        if by_hand:
            worst = min(r["cosine"] for r in by_hand)
            if worst < t.cosine:
                return Verdict("warn", f"the custom step updates the parameters by hand, downhill but not along the "
                               f"loss's gradient (cosine >= {worst:.3f} over {len(records)} steps)",
                               "fine for momentum or weight decay written by hand; otherwise look for gradients "
                               "that are not zeroed between steps or a loss other than the experiment's")
            return Verdict("pass", f"the custom step updates the parameters by hand along the loss's gradient "
                           f"(cosine >= {worst:.3f} over {len(records)} steps)")
        worst = min(r["cosine"] for r in records)
        ratios = [r["norm_ratio"] for r in records if r["kind"] == "gradient"]
        return Verdict("pass", f"the custom step applies the loss's gradient over {len(records)} steps (cosine >= "
                       f"{worst:.3f}, norm x{min(ratios):.3g} to x{max(ratios):.3g}"
                       + ("; smaller, as gradient clipping makes it)" if min(ratios) < 0.99 else ")"))


def _judge_gradient(i: int, r: GradientRecord, t: StepMatchesReferenceThresholds) -> Verdict | None:
    where = f"at step {i}: cosine {r['cosine']:.3f}, norm x{r['norm_ratio']:.3g} of the loss's own gradient"
    if r["reference_norm"] > 0 and r["norm_ratio"] < t.vanished:
        return Verdict("fail", f"the custom step applies no gradient where the loss has one ({where})",
                       "the gradient is lost: a clamped or detached loss (clip gradients, not the loss), "
                       "or zero_grad between backward and step")
    if not (r["cosine"] >= t.cosine and math.isfinite(r["norm_ratio"])):
        return Verdict("fail", f"the custom step applies a gradient pointing elsewhere ({where})",
                       "old gradients are added in (a missing optimizer.zero_grad()), or the step's loss "
                       "is not the experiment's loss")
    if r["norm_ratio"] > t.norm_ratio:
        return Verdict("fail", f"the custom step applies a gradient larger than the loss gives ({where})",
                       "gradients accumulate across steps (a missing zero_grad) or across micro-batches "
                       "without dividing the loss by their number")
    return None


def _judge_update(i: int, r: UpdateRecord, t: StepMatchesReferenceThresholds) -> Verdict | None:
    if r["reference_norm"] > 0 and not r["moved"] > 0:
        return Verdict("fail", f"the custom step changes no parameter at step {i} (it never calls optimizer.step() "
                       "and updates nothing by hand)",
                       "call optimizer.step() on the optimizer it is given, or apply the update to the parameters")
    if not r["cosine"] > t.uphill:
        return Verdict("fail", f"the custom step moves the parameters uphill at step {i} (cosine {r['cosine']:.3f} "
                       "between the update and the loss's descent direction)",
                       "the hand-written update has the wrong sign (p -= lr * grad), or it uses another loss's "
                       "gradient")
    return None
