"""loss-pairing: the loss pairs each output with its own target.

Measured on random outputs of the model's output shape and random targets of the data's shape, so only
the loss is under test: the loss must
change when the targets are shuffled apart from the outputs (a loss that does not has broadcast a (B, 1)
output against (B,) targets into a (B, B) matrix), must not change under a joint permutation of the batch,
and should equal the mean of the per-sample losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import forward

SAMPLES = 16


@dataclass(frozen=True)
class LossPairingThresholds:
    #: relative change of the loss below which it counts as unchanged
    tolerance: float = 1e-4


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


@dataclass(frozen=True)
class LossPairingEvidence:
    #: the experiment's loss on random outputs of the model's output shape and random targets of the data's
    loss: float
    #: the same, with the targets rolled by one sample (apart from their outputs), and with outputs and targets
    #: permuted together
    targets_shuffled: float
    joint_permutation: float
    #: the mean of the loss on each sample alone
    mean_per_sample: float
    #: the samples in the batch
    batch: int
    output_shape: list[int]
    target_shape: list[int]
    task: str


class LossPairing(ModelCheck[LossPairingEvidence, LossPairingThresholds]):
    id = "loss-pairing"
    stage = "skeleton"
    title = "The loss pairs each output with its own target"
    Thresholds = LossPairingThresholds

    def measure(self, ctx: ModelContext) -> LossPairingEvidence:
        x, y = ctx.batch(SAMPLES, "train", "loss-pairing")
        model = ctx.fresh_model("loss-pairing")
        with torch.no_grad(), mode(model, False):
            shape = forward(model, x).shape
        gen = torch.Generator().manual_seed(ctx.derive("loss-pairing"))
        out = torch.randn(shape, generator=gen).to(ctx.device)
        # Random targets of the data's shape and kind: the real ones can all be equal (imbalanced classes), and
        # then no shuffle could change the loss.
        if ctx.task == "regression":
            y = torch.randn(y.shape, generator=gen).to(y.dtype).to(ctx.device)
        else:
            y = torch.randint(0, ctx.num_classes or 2, y.shape, generator=gen).to(y.dtype).to(ctx.device)
        loss = ctx.loss_fn
        n = len(y)
        with torch.no_grad():
            base = float(loss(out, y))
            derange = torch.roll(torch.arange(n), 1)
            perm = torch.randperm(n, generator=gen)
            shuffled_targets = float(loss(out, y[derange]))
            joint = float(loss(out[perm], y[perm]))
            per_sample = float(torch.stack([loss(out[i : i + 1], y[i : i + 1]).float() for i in range(n)]).mean())
        return LossPairingEvidence(loss=base, targets_shuffled=shuffled_targets, joint_permutation=joint,
                                   mean_per_sample=per_sample, batch=n, output_shape=list(shape),
                                   target_shape=list(y.shape), task=ctx.task)

    def judge(self, e: LossPairingEvidence, t: LossPairingThresholds) -> Verdict:
        base = e.loss
        shapes = f"output {e.output_shape}, target {e.target_shape}"
        if e.task == "regression" and e.output_shape != e.target_shape:
            return Verdict("fail", f"the loss compares {shapes}: they broadcast instead of pairing",
                           "make the output the target's shape (squeeze or unsqueeze the last dimension)")
        if _relative(e.targets_shuffled, base) <= t.tolerance:
            return Verdict("fail", f"the loss does not change when targets are shuffled apart from outputs "
                           f"({base:.4g}; {shapes})",
                           "the loss does not pair outputs with targets: look for broadcasting between shapes")
        if _relative(e.joint_permutation, base) > t.tolerance:
            return Verdict("fail", f"the loss changes under a joint permutation of the batch ({base:.4g} -> "
                           f"{e.joint_permutation:.4g})",
                           "the loss depends on the order of samples: it should reduce over the batch symmetrically")
        reduction = _judge_reduction(e, t)
        if reduction is not None:
            return reduction
        return Verdict("pass", f"the loss pairs outputs with targets ({shapes}; shuffling targets changes it "
                       f"{base:.4g} -> {e.targets_shuffled:.4g}; it is the mean of per-sample losses)")


def _judge_reduction(e: LossPairingEvidence, t: LossPairingThresholds) -> Verdict | None:
    """A warn when the batch loss is not the mean of the per-sample losses (a sum, or something else)."""
    base, n = e.loss, e.batch
    ratio = base / e.mean_per_sample if e.mean_per_sample else float("inf")
    if abs(ratio - n) <= t.tolerance * n * 10:
        return Verdict("warn", f"the loss is the sum, not the mean, of per-sample losses (x{ratio:.3g}, batch {n})",
                       "a summed loss scales the gradient with the batch size: use reduction='mean' or "
                       "rescale the learning rate")
    if _relative(base, e.mean_per_sample) > t.tolerance * 10:
        return Verdict("warn", f"the batch loss {base:.4g} differs from the mean of per-sample losses "
                       f"{e.mean_per_sample:.4g}",
                       "the loss reduces over the batch in a non-standard way (class weights, normalization "
                       "by batch statistics): make sure it is what you mean")
    return None
