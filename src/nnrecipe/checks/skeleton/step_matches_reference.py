"""step-matches-reference: a custom `train_step` must apply the gradient the loss gives ("generalize a
special case": compare the special step with the standard one, from the same state).

At each of a few steps, the gradient the custom step hands to `optimizer.step()` is compared with the
gradient of the experiment's loss on the same batch at the same parameters (same dropout draws). A missing
`zero_grad` adds up old gradients; a clipped loss gives none; accumulation without dividing by the number of
micro-batches scales it. Gradient clipping only shrinks it, and passes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.loop import mode

STEPS = 3


@dataclass(frozen=True)
class StepMatchesReferenceThresholds:
    #: fail when the applied gradient's direction (cosine) differs from the reference's below this
    cosine: float = 0.95
    #: fail when it is more than this many times the reference's norm (clipping only shrinks it)
    norm_ratio: float = 1.5
    #: an applied gradient below this fraction of the reference's counts as none
    vanished: float = 1e-6


def _flat_grads(params: list[nn.Parameter]) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float() for p in params])


class StepMatchesReference(Check):
    id = "step-matches-reference"
    stage = "skeleton"
    title = "A custom train_step matches the standard step"
    Thresholds = StepMatchesReferenceThresholds

    def applies(self, ctx: CheckContext) -> str | None:
        return None if ctx.experiment.train_step is not None else "no custom train_step: the standard step is used"

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        model = ctx.fresh_model("step-matches-reference")
        optimizer = ctx.optimizer(model)
        params = [p for p in model.parameters() if p.requires_grad]
        records: list[dict[str, float]] = []
        state: dict[str, Any] = {}
        original_step = optimizer.step

        def recording_step(*args: Any, **kwargs: Any) -> Any:
            applied = _flat_grads(params)
            with torch.random.fork_rng(devices=[]):  # the same dropout draws as the custom step's forward
                torch.random.set_rng_state(state["rng"])
                x, y = state["batch"]
                reference = torch.autograd.grad(ctx.loss_fn(model(x), y), params, allow_unused=True)
            ref = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                             for g, p in zip(reference, params, strict=False)])
            cos = float(torch.nn.functional.cosine_similarity(applied, ref, dim=0, eps=1e-30))
            records.append({"cosine": cos, "norm_ratio": float(applied.norm() / ref.norm().clamp_min(1e-30)),
                            "reference_norm": float(ref.norm())})
            return original_step(*args, **kwargs)

        optimizer.step = recording_step  # type: ignore[method-assign]
        step_fn = ctx.experiment.train_step
        assert step_fn is not None
        with mode(model, True):
            for i in range(STEPS):
                batch = ctx.batch(ctx.experiment.batch_size, "train", "step-matches-reference", i)
                state["batch"], state["rng"] = batch, torch.random.get_rng_state()
                step_fn(model, batch, optimizer)
        return {"steps": STEPS, "optimizer_steps": len(records), "per_step": records}

    def judge(self, m: Mapping[str, Any], t: StepMatchesReferenceThresholds) -> Verdict:
        records = m["per_step"]
        if not records:
            return Verdict("warn", f"the custom train_step never called optimizer.step() in {m['steps']} steps",
                           "nnrecipe could not compare it: call optimizer.step() on the optimizer it is given")
        for i, r in enumerate(records):
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
        worst = min(r["cosine"] for r in records)
        ratios = [r["norm_ratio"] for r in records]
        return Verdict("pass", f"the custom step applies the loss's gradient over {len(records)} steps (cosine >= "
                       f"{worst:.3f}, norm x{min(ratios):.3g} to x{max(ratios):.3g}"
                       + ("; smaller, as gradient clipping makes it)" if min(ratios) < 0.99 else ")"))
