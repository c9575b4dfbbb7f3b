"""What steps 3 and 4 decide, as plain data: a `TrainingConfig`, and how much training each budget allows.

A `TrainingConfig` is everything needed to train a model again from the experiment: later steps (tuning,
ensembles) start from the one step 4 settles on, which `nnrecipe run` keeps in the run folder as config.json.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from nnrecipe.errors import UsageError, did_you_mean
from nnrecipe.knobs import describe as describe_knobs

Schedule = Literal["constant", "onecycle"]
SCHEDULES: tuple[Schedule, ...] = ("constant", "onecycle")


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """One way to train the experiment's model.

    `knobs` are keyword arguments for the experiment's `model` factory, from its declared `capacity` and
    `regularizers` (empty: the factory's defaults, the experiment's own model). `lr` is the constant learning
    rate, or the peak of the one-cycle schedule. `augment` turns on the experiment's augmentation (its
    `augment`, or the experiment's `batch_augment`). `label_smoothing` mixes that share of a uniform
    distribution into the training targets of the standard cross-entropy (validation is always scored with the
    plain loss). At constant lr, `patience` stops training after that many epochs without a better validation
    score (None: train every epoch) and the best epoch's weights are kept; a one-cycle schedule always runs to
    its end and keeps its last.
    """

    knobs: dict[str, Any] = field(default_factory=dict)
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    #: the share of the input's resolution the model sees (step 3's bottom rung for signals and images)
    resolution: float = 1.0
    lr: float = 3e-4
    batch_size: int = 64
    augment: bool = False
    schedule: Schedule = "constant"
    epochs: int = 10
    patience: int | None = None

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise UsageError(f"TrainingConfig.schedule: expected one of {SCHEDULES}, but got {self.schedule!r}"
                             f"{did_you_mean(str(self.schedule), SCHEDULES)}")
        if not 0.0 < self.resolution <= 1.0:
            raise UsageError(f"TrainingConfig.resolution: expected a share in (0, 1], but got {self.resolution}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise UsageError(f"TrainingConfig.label_smoothing: expected a share in [0, 1), but got {self.label_smoothing}")
        if not isinstance(self.knobs, dict):
            raise UsageError(f"TrainingConfig.knobs: expected a dict of keyword arguments for the model factory, but "
                             f"got a {type(self.knobs).__name__}")
        if self.epochs <= 0 or self.batch_size <= 0:
            raise UsageError(f"TrainingConfig: expected positive epochs and batch_size, but got {self.epochs} "
                             f"and {self.batch_size}")

    def replace(self, **changes: Any) -> TrainingConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def describe(self) -> str:
        """A short label: the knobs and the training choices that differ from plain training."""
        parts = [describe_knobs(self.knobs)] if self.knobs else []
        if self.resolution < 1.0:
            parts.append(f"input resolution {self.resolution:g}")
        parts.append(f"lr {self.lr:g}" + (" one-cycle" if self.schedule == "onecycle" else ""))
        parts.append(f"batch {self.batch_size}")
        if self.augment:
            parts.append("augment")
        if self.weight_decay:
            parts.append(f"wd {self.weight_decay:g}")
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
        return ", ".join(parts)


@dataclass(frozen=True, kw_only=True)
class Budget:
    """How much training steps 3 and 4 may spend (`--budget quick|default|long`)."""

    #: most epochs one rung of the step-3 ladder trains before it is judged unable to fit
    overfit_epochs: int
    #: most rungs the ladder climbs
    ladder_rungs: int
    #: most epochs each step-4 candidate trains; early stopping usually ends it sooner
    epochs: int
    #: early stopping: epochs without a better validation score before a candidate stops
    patience: int
    #: epochs of the final training with the one-cycle schedule
    final_epochs: int
    #: fractions of the training set for the learning curve
    curve_fractions: tuple[float, ...]
    #: the step-4 candidates tried, by name, in the recipe's order (see regularize.CANDIDATES)
    candidates: tuple[str, ...]
    #: one-cycle peaks tried in the final training, as multiples of the constant learning rate
    onecycle_peaks: tuple[float, ...]
    #: candidates measured again under the final one-cycle schedule when constant lr turned them down
    retest_under_schedule: tuple[str, ...] = ()
    #: most values of each regularizer knob step 4 tries, weakest first, while each one helps
    regularizer_steps: int = 3


_ALL_CANDIDATES = ("augment", "weight-decay", "regularizers", "label-smoothing", "smaller-model", "larger-model",
                   "smaller-batch")
#: the candidates that make training harder to generalize better: worth a second look under the final schedule
_REGULARIZERS = ("augment", "weight-decay", "regularizers", "label-smoothing")
_CURVE = (0.1, 0.25, 0.5, 1.0)

# Sized for the built-in mnist1d on 2 CPU cores (an epoch of its default model takes ~0.3 s): quick ~2 min,
# default ~6 min, long ~20 min of training.
BUDGETS: dict[str, Budget] = {
    "quick": Budget(overfit_epochs=40, ladder_rungs=3, epochs=30, patience=5, final_epochs=30,
                    curve_fractions=_CURVE, candidates=("augment", "weight-decay", "regularizers", "larger-model"),
                    onecycle_peaks=(30.0,), retest_under_schedule=("augment",), regularizer_steps=1),
    "default": Budget(overfit_epochs=80, ladder_rungs=5, epochs=100, patience=8, final_epochs=60,
                      curve_fractions=_CURVE, candidates=_ALL_CANDIDATES, onecycle_peaks=(10.0, 30.0),
                      retest_under_schedule=_REGULARIZERS),
    "long": Budget(overfit_epochs=150, ladder_rungs=6, epochs=200, patience=15, final_epochs=300,
                   curve_fractions=_CURVE, candidates=_ALL_CANDIDATES, onecycle_peaks=(10.0, 30.0, 100.0),
                   retest_under_schedule=_REGULARIZERS, regularizer_steps=5),
}


def budget_for(name: str) -> Budget:
    if name not in BUDGETS:
        raise UsageError(f"unknown budget {name!r}{did_you_mean(name, BUDGETS)}; expected one of {', '.join(BUDGETS)}")
    return BUDGETS[name]
