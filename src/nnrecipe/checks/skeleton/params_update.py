"""params-update: every trainable parameter gets a gradient, is held by the optimizer, and moves in the
short run.

Parameters the optimizer does not hold never learn (an optimizer built from part of the model); a
parameter that gets no gradient is cut off from the loss (a detach, an unused layer); frozen parameters
(`requires_grad=False`) are listed, since freezing can be deliberate.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnrecipe.checks.base import ModelCheck, Verdict, internal
from nnrecipe.checks.context import ModelContext
from nnrecipe.checks.skeleton.short_run import shared_short_run
from nnrecipe.engine.outputs import forward

SAMPLES = 32
LISTED = 8  # names shown in a summary


@dataclass(frozen=True)
class ParamsUpdateThresholds:
    #: a parameter "moves" when its relative change over the short run exceeds this
    moved: float = 0.0


def _names(names: list[str]) -> str:
    return ", ".join(names[:LISTED]) + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


@dataclass(frozen=True)
class ParamsUpdateEvidence:
    #: the trainable parameters (tensors) of a fresh model
    trainable: int
    #: parameter names: frozen (requires_grad=False), trainable but not held by the optimizer, and trainable but
    #: without a (nonzero) gradient after one backward pass
    frozen: list[str]
    not_in_optimizer: list[str]
    no_gradient: list[str]
    #: per parameter name, its relative change over the shared short run
    moved: dict[str, float] = internal()
    #: the names of the trainable parameters
    trainable_names: list[str] = internal()


class ParamsUpdate(ModelCheck[ParamsUpdateEvidence, ParamsUpdateThresholds]):
    id = "params-update"
    stage = "skeleton"
    title = "Every trainable parameter gets a gradient and moves"
    Thresholds = ParamsUpdateThresholds

    def measure(self, ctx: ModelContext) -> ParamsUpdateEvidence:
        model = ctx.fresh_model("params-update")
        named = dict(model.named_parameters())
        held = {id(p) for group in ctx.optimizer(model).param_groups for p in group["params"]}
        x, y = ctx.batch(SAMPLES, "train", "params-update")
        ctx.loss_fn(forward(model, x), y).backward()
        no_grad = [n for n, p in named.items() if p.requires_grad and (p.grad is None or not bool(p.grad.any()))]
        run = shared_short_run(ctx)
        moved = {}
        for n, p in run.model.named_parameters():
            start = run.initial[n]
            moved[n] = float((p.detach() - start).norm() / start.norm().clamp_min(1e-12))
        return ParamsUpdateEvidence(
            trainable=sum(p.requires_grad for p in named.values()),
            frozen=[n for n, p in named.items() if not p.requires_grad],
            not_in_optimizer=[n for n, p in named.items() if p.requires_grad and id(p) not in held],
            no_gradient=no_grad,
            moved=moved,
            trainable_names=[n for n, p in named.items() if p.requires_grad],
        )

    def judge(self, e: ParamsUpdateEvidence, t: ParamsUpdateThresholds) -> Verdict:
        trainable = set(e.trainable_names)
        still = [n for n, v in e.moved.items() if n in trainable and not v > t.moved]
        numbers = {"did_not_move": still}
        if e.not_in_optimizer:
            return Verdict("fail", f"{len(e.not_in_optimizer)} trainable parameter(s) are not in the optimizer: "
                           f"{_names(e.not_in_optimizer)}", "build the optimizer from model.parameters() (all "
                           "of them), or freeze what you leave out with requires_grad_(False)", evidence=numbers)
        if e.no_gradient and set(e.no_gradient) & set(still):
            cut = [n for n in e.no_gradient if n in still]
            return Verdict("fail", f"{len(cut)} trainable parameter(s) get no gradient and do not move: {_names(cut)}",
                           "these parameters are cut off from the loss: look for a detach(), .data, a layer that "
                           "is defined but not used in forward, or an integer cast", evidence=numbers)
        if still:
            return Verdict("fail", f"{len(still)} parameter(s) did not move in the short run: {_names(still)}",
                           "the optimizer does not update them: check the learning rate is not zero and the "
                           "optimizer steps", evidence=numbers)
        if e.frozen:
            return Verdict("warn", f"{len(e.frozen)} parameter(s) are frozen (requires_grad=False): "
                           f"{_names(e.frozen)}; the {e.trainable} others get gradients and move",
                           "fine if you froze them on purpose (a pretrained backbone); otherwise unfreeze them",
                           evidence=numbers)
        return Verdict("pass", f"all {e.trainable} trainable parameters get gradients, are in the optimizer "
                       "and move", evidence=numbers)
