"""The search space, as plain data: where random search looks around the settled configuration, each dimension
a `Param`, and the `StudyDefinition` every worker of a study agrees on (stored in the study)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution

from nnrecipe import knobs
from nnrecipe.experiment import Experiment
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.training import has_augmentation, label_smoothing_applies

#: what the search space can vary besides lr and weight decay: these fields, and `knob:NAME` for the experiment's knobs
SEARCHABLE = ("augment", "label_smoothing", "batch_size")
KNOB = "knob:"


@dataclass(frozen=True, kw_only=True)
class SearchRanges:
    """Where random search looks, relative to the settled configuration."""

    #: learning rate drawn log-uniformly in [lr / lr_span, lr * lr_span]
    lr_span: float = 10.0
    #: weight decay (decoupled, AdamW) drawn log-uniformly in this range; log-uniform cannot reach 0, and
    #: 1e-5 is as good as none for these models
    weight_decay: tuple[float, float] = (1e-5, 0.3)
    #: label smoothing drawn uniformly in [0, label_smoothing_max]
    label_smoothing_max: float = 0.2
    #: a capacity knob draws from its settled value and this many of its values on either side (a model many
    #: times larger than the one that fit is another study, and would cost the study most of its time)
    capacity_steps: int = 1


#: the ranges a study searches unless told otherwise
DEFAULT_RANGES = SearchRanges()


@dataclass(frozen=True)
class Param:
    """One dimension of the space: a `TrainingConfig` field and how it is drawn."""

    name: str
    kind: Literal["log", "uniform", "choice"]
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()
    #: why it is in the space (shown in the report)
    reason: str = ""

    def distribution(self) -> BaseDistribution:
        if self.kind == "choice":
            return CategoricalDistribution(self.choices)
        return FloatDistribution(self.low, self.high, log=self.kind == "log")

    def clip(self, value: Any) -> Any:
        """A value of the settled configuration, moved inside the range (trial 0 must be a valid draw)."""
        if self.kind == "choice":
            return value if value in self.choices else self.choices[0]
        return min(max(float(value), self.low), self.high)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "low": self.low, "high": self.high,
                "choices": list(self.choices), "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Param:
        return cls(name=data["name"], kind=data["kind"], low=data["low"], high=data["high"],
                   choices=tuple(data["choices"]), reason=data.get("reason", ""))


@dataclass(frozen=True)
class StudyDefinition:
    """What every worker of one study must agree on; the first worker stores it in the study."""

    base: TrainingConfig
    space: tuple[Param, ...]
    metric: str
    higher_is_better: bool
    seed: int

    def to_attrs(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "space": [p.to_dict() for p in self.space], "metric": self.metric,
                "higher_is_better": self.higher_is_better, "seed": self.seed}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> StudyDefinition:
        return cls(base=TrainingConfig.from_dict(attrs["base"]), space=tuple(Param.from_dict(p) for p in attrs["space"]),
                   metric=attrs["metric"], higher_is_better=attrs["higher_is_better"], seed=attrs["seed"])


def applicable_knobs(exp: Experiment) -> dict[str, str]:
    """Every knob the experiment supports, for tuning without step 4's findings."""
    found = {}
    if has_augmentation(exp):
        found["augment"] = "the experiment has an augmentation"
    if label_smoothing_applies(exp) is None:
        found["label_smoothing"] = "the experiment trains with the standard cross-entropy"
    for knob in knobs.declared(exp):
        found[KNOB + knob.name] = f"the experiment declares it in {knob.role}"
    found["batch_size"] = "always applies"
    return found


def search_space(base: TrainingConfig, wanted: Mapping[str, str], *, declared: Sequence[knobs.Knob] = (),
                 ranges: SearchRanges = DEFAULT_RANGES) -> list[Param]:
    """Learning rate and weight decay first, then the wanted knobs (name -> reason): augmentation, the
    regularizer knobs, label smoothing, the capacity knobs, the batch size."""
    space = [Param("lr", "log", base.lr / ranges.lr_span, base.lr * ranges.lr_span, reason="always first"),
             Param("weight_decay", "log", *ranges.weight_decay, reason="always first")]
    if "augment" in wanted:
        space.append(Param("augment", "choice", choices=(False, True), reason=wanted["augment"]))
    for knob in (k for k in declared if k.role == "regularizers" and KNOB + k.name in wanted):
        space.append(Param(KNOB + knob.name, "choice", choices=knob.choices(), reason=wanted[KNOB + knob.name]))
    if "label_smoothing" in wanted:
        space.append(Param("label_smoothing", "uniform", 0.0, ranges.label_smoothing_max,
                           reason=wanted["label_smoothing"]))
    for knob in (k for k in declared if k.role == "capacity" and KNOB + k.name in wanted):
        choices = _neighbours(knob, base.knobs.get(knob.name, knob.start), ranges.capacity_steps)
        space.append(Param(KNOB + knob.name, "choice", choices=choices, reason=wanted[KNOB + knob.name]))
    if "batch_size" in wanted:
        b = base.batch_size
        space.append(Param("batch_size", "choice", choices=tuple(sorted({max(1, b // 2), b, b * 2})),
                           reason=wanted["batch_size"]))
    return space


def _neighbours(knob: knobs.Knob, value: Any, steps: int) -> tuple[Any, ...]:
    """`value` and up to `steps` of the knob's values on either side of it, smallest first."""
    below: list[Any] = []
    above: list[Any] = []
    low = high = value
    for _ in range(steps):
        low = knob.down(low) if low is not None else None
        high = knob.up(high) if high is not None else None
        below += [] if low is None else [low]
        above += [] if high is None else [high]
    return (*reversed(below), value, *above)


def trial_config(base: TrainingConfig, params: Mapping[str, Any]) -> TrainingConfig:
    """The base configuration with a trial's draws: `knob:NAME` draws go into its knobs."""
    fields = {k: v for k, v in params.items() if not k.startswith(KNOB)}
    drawn = {k.removeprefix(KNOB): v for k, v in params.items() if k.startswith(KNOB)}
    return base.replace(**fields, knobs={**base.knobs, **drawn}) if drawn else base.replace(**fields)


def settled_value(base: TrainingConfig, name: str) -> Any:
    """The settled configuration's value of one dimension (`knob:NAME` from its knobs)."""
    if name.startswith(KNOB):
        return base.knobs.get(name.removeprefix(KNOB))
    return getattr(base, name)
