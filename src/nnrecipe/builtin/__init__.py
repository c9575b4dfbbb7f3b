"""Built-in experiments: real data made offline, each with a sensible default model.

The registry is a plain dict from name to module; each module defines `experiment() -> Experiment`.
"""

from __future__ import annotations

import importlib

from nnrecipe.errors import SpecError, did_you_mean
from nnrecipe.experiment import Experiment

BUILTINS: dict[str, str] = {
    "mnist1d": "nnrecipe.builtin.mnist1d",
    "digits": "nnrecipe.builtin.digits",
    "diabetes": "nnrecipe.builtin.diabetes",
    "chars": "nnrecipe.builtin.chars",
}


def load_builtin(name: str) -> Experiment:
    if name not in BUILTINS:
        raise SpecError(f"unknown built-in {name!r}{did_you_mean(name, BUILTINS)}; expected one of {', '.join(BUILTINS)}")
    module = importlib.import_module(BUILTINS[name])
    return module.experiment()
