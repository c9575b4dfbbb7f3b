"""reproducible: the same seed twice gives the same first losses.

Every random source must derive from the experiment's seed; one that does not (an augmentation drawing
from its own unseeded generator, a dataset adding fresh noise, a model initialised from an unseeded
generator) makes every comparison between two runs meaningless. The runs include the augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnrecipe.checks.base import ModelCheck, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.loop import fit

STEPS = 8


@dataclass(frozen=True)
class ReproducibleThresholds:
    #: relative difference between the two runs' losses above which they differ (not round-off)
    fail_above: float = 1e-4
    #: below fail_above but above this: nondeterministic kernels, worth knowing
    warn_above: float = 1e-6


def _first_losses(ctx: ModelContext) -> list[float]:
    model = ctx.fresh_model("reproducible")
    history = fit(model, ctx.experiment, device=ctx.device, epochs=10**6, max_steps=STEPS,
                  seed=ctx.derive("reproducible"), augment=True)
    return history.step_losses


@dataclass(frozen=True)
class ReproducibleEvidence:
    #: the losses of the first STEPS training steps of two runs from the same seed (with augmentation)
    first_run: list[float]
    second_run: list[float]


class Reproducible(ModelCheck[ReproducibleEvidence, ReproducibleThresholds]):
    id = "reproducible"
    stage = "skeleton"
    title = "The same seed gives the same run"
    Thresholds = ReproducibleThresholds

    def measure(self, ctx: ModelContext) -> ReproducibleEvidence:
        return ReproducibleEvidence(first_run=_first_losses(ctx), second_run=_first_losses(ctx))

    def judge(self, e: ReproducibleEvidence, t: ReproducibleThresholds) -> Verdict:
        a, b = e.first_run, e.second_run
        diffs = [abs(x - y) / max(abs(x), 1e-12) for x, y in zip(a, b, strict=False)] + [0.0]
        worst = max(diffs) if len(a) == len(b) else float("inf")
        if not worst <= t.fail_above:
            first = next((i for i, d in enumerate(diffs) if not d <= t.fail_above), 0)
            return Verdict("fail", f"two runs with the same seed differ: step {first} loss {a[first]:.6g} vs "
                           f"{b[first]:.6g} (relative difference {worst:.3g})",
                           "a random source ignores the seed: draw augmentation and noise from torch/numpy/random "
                           "(seeded by nnrecipe) rather than a private unseeded generator, or seed it from "
                           "the experiment's seed", evidence={"max_relative_difference": worst})
        if worst > t.warn_above:
            return Verdict("warn", f"two runs with the same seed differ by round-off ({worst:.3g} relative)",
                           "nondeterministic kernels: torch.use_deterministic_algorithms(True) if you need "
                           "bit-exact runs", evidence={"max_relative_difference": worst})
        return Verdict("pass", f"two runs with the same seed give the same {len(a)} losses",
                       evidence={"max_relative_difference": worst})
