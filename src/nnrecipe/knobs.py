"""The knobs of the user's own model (CONTRACT §5): keyword parameters of the model factory, with values to try.

    Experiment(model=lambda hidden=64, layers=2, dropout=0.0: MyNet(hidden, layers, dropout),
               capacity={"hidden": [16, 32, 64, 128, 256], "layers": [1, 2, 3, 4]},
               regularizers={"dropout": [0.1, 0.3, 0.5]})

Capacity values go smallest first, regularizer values weakest first. Step 3's ladder climbs the capacity knobs one
change per rung, step 4 tries one capacity step either way and the regularizer values, step 5 draws the knobs
from their values. The knobs are plain data here, and they are checked where the user wrote them: a name that
is no keyword parameter of the factory, a list that is empty, a value that is not a plain number, string or
boolean (knob values go into config.json and the tuning study), or a value the factory refuses to build is a
spec error naming the knob.
"""

from __future__ import annotations

import inspect
import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nnrecipe.errors import SpecError, did_you_mean

Role = Literal["capacity", "regularizers"]
ROLES: tuple[Role, ...] = ("capacity", "regularizers")
#: knob values are JSON scalars, so a configuration stays plain data
PLAIN = (bool, int, float, str, type(None))
_EXAMPLE = {"capacity": 'capacity={"hidden": [16, 32, 64], "layers": [1, 2, 3]}, smallest first',
            "regularizers": 'regularizers={"dropout": [0.1, 0.3, 0.5]}, weakest first'}


class _Unknown:
    """The default of a parameter the factory takes only through **kwargs: nnrecipe cannot know it."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Knob:
    """One keyword parameter of the model factory, the values to try (in order) and the factory's default."""

    name: str
    values: tuple[Any, ...]
    role: Role
    default: Any = UNKNOWN

    @property
    def known_default(self) -> bool:
        return self.default is not UNKNOWN

    @property
    def start(self) -> Any:
        """The value the experiment's own model has: the factory's default (the first value when unknown)."""
        return self.default if self.known_default else self.values[0]

    def up(self, value: Any) -> Any | None:
        """The next value after `value` in the list (None at the end)."""
        pos = self._position(value)
        later = [i for i in range(len(self.values)) if i > pos]
        return self.values[later[0]] if later else None

    def down(self, value: Any) -> Any | None:
        """The value before `value` in the list (None at the start)."""
        pos = self._position(value)
        earlier = [i for i in range(len(self.values)) if i < pos]
        return self.values[earlier[-1]] if earlier else None

    def choices(self) -> tuple[Any, ...]:
        """Every value, with the factory's default in front when the list leaves it out (dropout 0: none)."""
        if self.known_default and isinstance(self.default, PLAIN) and _index(self.values, self.default) is None:
            return (self.default, *self.values)
        return self.values

    def _position(self, value: Any) -> float:
        """Where `value` sits in the list; between two entries (x.5) for a number the list leaves out."""
        found = _index(self.values, value)
        if found is not None:
            return float(found)
        if _number(value) and all(_number(v) for v in self.values):
            return sum(v < value for v in self.values) - 0.5
        return -0.5  # not comparable: below the whole list


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _index(values: Sequence[Any], value: Any) -> int | None:
    """The position of `value`, telling True from 1 (a bool knob and an int knob are different values)."""
    for i, v in enumerate(values):
        if type(v) is type(value) and v == value or _number(v) and _number(value) and v == value:
            return i
    return None


def fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe(knobs: Mapping[str, Any]) -> str:
    """'hidden 64, layers 2'."""
    return ", ".join(f"{name} {fmt(value)}" for name, value in knobs.items())


# -- what an experiment declares


def factory_parameters(factory: Callable[..., Any]) -> tuple[dict[str, Any], bool] | None:
    """The factory's keyword parameters with their defaults (UNKNOWN without one), and whether it takes
    **kwargs; None when its signature cannot be read (a builtin)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    params: dict[str, Any] = {}
    takes_any = False
    for p in signature.parameters.values():
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            params[p.name] = UNKNOWN if p.default is p.empty else p.default
        elif p.kind == p.VAR_KEYWORD:
            takes_any = True
    return params, takes_any


def declared(exp: Any, role: Role | None = None) -> list[Knob]:
    """The experiment's knobs in declared order (capacity first), each with the factory's default."""
    found = factory_parameters(exp.model)
    defaults = found[0] if found is not None else {}
    knobs = []
    for r in ROLES if role is None else (role,):
        for name, values in (getattr(exp, r) or {}).items():
            knobs.append(Knob(name, tuple(values), r, defaults.get(name, UNKNOWN)))
    return knobs


def start_point(knobs: Sequence[Knob]) -> dict[str, Any]:
    """Each knob at the value the experiment's own model has."""
    return {k.name: k.start for k in knobs}


def is_own_model(knobs: Sequence[Knob], point: Mapping[str, Any]) -> bool:
    """Whether `point` builds exactly the experiment's model (every knob at the factory's known default)."""
    return all(k.known_default and _index((k.default,), point.get(k.name, k.default)) == 0 for k in knobs)


# -- validation, where the user wrote it


def validate(exp: Any) -> None:
    """Raise a SpecError naming the knob when `capacity` or `regularizers` is wrong."""
    if exp.capacity is None and exp.regularizers is None:
        return
    found = factory_parameters(exp.model)
    seen: dict[str, str] = {}
    for role in ROLES:
        knobs = getattr(exp, role)
        if knobs is None:
            continue
        if not isinstance(knobs, Mapping):
            raise SpecError(f"Experiment field {role!r}: expected a dict from keyword parameters of the model factory "
                            f"to the values to try ({_EXAMPLE[role]}), but got a {type(knobs).__name__}")
        for name, values in knobs.items():
            _check_name(role, name, found)
            _check_values(role, name, values)
            if name in seen:
                raise SpecError(f"Experiment field {role!r}: {name!r} is also in {seen[name]!r}; a keyword parameter "
                                "is either a capacity knob or a regularizer, not both")
            seen[name] = role
    _check_factory(exp)


#: factory -> the knob declarations it was seen to build, so `Experiment.replace` does not build them again
_BUILT: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _check_factory(exp: Any) -> None:
    key = repr((exp.capacity, exp.regularizers))
    try:
        if key in _BUILT.get(exp.model, ()):
            return
    except TypeError:  # a factory that cannot be weakly referenced: checked every time
        pass
    for knob in declared(exp):
        _check_builds(exp.model, knob)
    try:
        _BUILT.setdefault(exp.model, set()).add(key)
    except TypeError:
        pass


def _check_name(role: Role, name: Any, found: tuple[dict[str, Any], bool] | None) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise SpecError(f"Experiment field {role!r}: expected keyword parameter names of the model factory as keys, "
                        f"but got {name!r}")
    if found is None:  # a signature nnrecipe cannot read: the build below tells whether the factory takes it
        return
    params, takes_any = found
    if name in params or takes_any:
        return
    if not params:
        raise SpecError(f"Experiment field {role!r}: {name!r} is not a keyword parameter of the model factory, which "
                        f"takes none; write the factory with the knob as a keyword parameter, e.g. "
                        f"model=lambda {name}=...: MyNet({name})")
    raise SpecError(f"Experiment field {role!r}: {name!r} is not a keyword parameter of the model factory"
                    f"{did_you_mean(name, params)}; expected one of: {', '.join(params)}")


def _check_values(role: Role, name: str, values: Any) -> None:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
        raise SpecError(f"Experiment field {role!r}: expected a list of values to try for {name!r}, but got a "
                        f"{type(values).__name__}")
    if len(values) == 0:
        raise SpecError(f"Experiment field {role!r}: the list of values for {name!r} is empty; expected at least one "
                        "value to try")
    for value in values:
        if not isinstance(value, PLAIN) or isinstance(value, float) and not math.isfinite(value):
            raise SpecError(f"Experiment field {role!r}: expected numbers, strings or booleans as values of {name!r} "
                            f"(they are saved in config.json and the tuning study), but got {value!r}")
    if len({(type(v), v) for v in values}) != len(values):
        raise SpecError(f"Experiment field {role!r}: the values of {name!r} repeat: {list(values)!r}")


def _check_builds(factory: Callable[..., Any], knob: Knob) -> None:
    """The factory must build a model at the knob's first and last value (the others at their defaults)."""
    for value in dict.fromkeys((knob.values[0], knob.values[-1])):
        error = _build_error(factory, {knob.name: value})
        if error is not None:
            raise SpecError(f"Experiment field {knob.role!r}: the model factory rejects {knob.name}={value!r} "
                            f"({type(error).__name__}: {error}); expected every value of {knob.name!r} to build a "
                            "model") from error


def _build_error(factory: Callable[..., Any], kwargs: dict[str, Any]) -> Exception | None:
    """None when `factory(**kwargs)` builds; else what it raised. Built on the meta device first (no memory, no
    time: parameters get no storage), then for real when the model reads a value while it is built."""
    import torch

    from nnrecipe.seeding import preserved_random_state

    with preserved_random_state():
        try:
            with torch.device("meta"):
                factory(**kwargs)
            return None
        except Exception:
            pass
        try:
            factory(**kwargs)
        except Exception as exc:
            return exc
    return None
