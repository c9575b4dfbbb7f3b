"""What a watched loop leaves behind: plain numbers, step by step, that every online check reads.

The watcher fills a `WatchRecord` as the loop runs; checks measure from it and judge the numbers, so a check
never touches torch and can be tested on made-up records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Series:
    """Values at the steps they were seen at (steps ascending; not every step need have a value)."""

    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, step: int, value: float) -> None:
        self.steps.append(step)
        self.values.append(value)

    def __len__(self) -> int:
        return len(self.values)

    def first_non_finite(self) -> tuple[int, float] | None:
        """(step, value) of the first NaN or Inf, or None."""
        return next(((s, v) for s, v in zip(self.steps, self.values, strict=True) if not math.isfinite(v)), None)

    def finite_prefix(self) -> Series:
        """The values before the first non-finite one."""
        bad = next((i for i, v in enumerate(self.values) if not math.isfinite(v)), len(self.values))
        return Series(self.steps[:bad], self.values[:bad])


@dataclass
class ParamsSeen:
    """What the watcher learned about the model's parameters."""

    #: trainable (requires_grad) parameter names, in the model's order
    trainable: list[str] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)
    #: trainable parameters the optimizer does not hold (empty without an optimizer)
    not_in_optimizer: list[str] = field(default_factory=list)
    #: per trainable parameter: did it have a non-zero gradient on any sampled step
    got_gradient: dict[str, bool] = field(default_factory=dict)
    #: sampled steps on which the gradients were looked at
    gradient_samples: int = 0


@dataclass
class WatchRecord:
    """Everything a watched loop showed, as plain Python numbers."""

    name: str = "model"
    has_optimizer: bool = False
    planned_steps: int | None = None
    #: steps the loop took (calls to `log`, or the trainer's optimizer steps)
    steps: int = 0
    losses: Series = field(default_factory=Series)
    val_losses: Series = field(default_factory=Series)
    #: the learning rate of the first parameter group, read before each optimizer step
    lrs: Series = field(default_factory=Series)
    #: the total gradient norm over every parameter, read before the optimizer steps (every few steps)
    grad_norms: Series = field(default_factory=Series)
    #: other figures the loop logged (`w.log(loss, accuracy=...)`), by name
    scalars: dict[str, Series] = field(default_factory=dict)
    #: one entry per sampled step: {"step", "activations": {layer: {mean, std, zero_fraction}},
    #: "gradients": {param: {ndim, grad_std, grad_norm, update_ratio}},
    #: "units": {layer: {kind: "dead" | "saturated", units, share}}}
    samples: list[dict[str, Any]] = field(default_factory=list)
    #: one entry per sampled input batch: {"step", "shape", "dtype", "integer", "values", "non_finite", "mean",
    #: "std", "min", "max"}, the first also with "feature_mean", "feature_std" and "constant_features"
    inputs: list[dict[str, Any]] = field(default_factory=list)
    params: ParamsSeen = field(default_factory=ParamsSeen)
    seconds: float = 0.0
    #: True once the loop has ended (checks tell "not yet seen" from "did not happen" by it)
    finished: bool = False
    #: "ExceptionType: message" when the loop raised
    interrupted: str | None = None

    def scalar(self, name: str) -> Series:
        return self.scalars.setdefault(name, Series())
