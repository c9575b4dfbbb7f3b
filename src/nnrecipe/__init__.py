"""nnrecipe: Karpathy's "A Recipe for Training Neural Networks", as software.

The public API, and nothing else. Heavy modules load lazily so `import nnrecipe` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CheckResult",
    "DataError",
    "Experiment",
    "NnrecipeError",
    "RunResult",
    "SpecError",
    "StepResult",
    "__version__",
    "check",
    "init_final_bias",
    "load",
    "load_spec",
    "testing",
    "watch",
]

_LAZY = {
    "Experiment": "nnrecipe.experiment",
    "CheckResult": "nnrecipe.results",
    "StepResult": "nnrecipe.results",
    "RunResult": "nnrecipe.results",
    "NnrecipeError": "nnrecipe.errors",
    "SpecError": "nnrecipe.errors",
    "DataError": "nnrecipe.errors",
    "load_spec": "nnrecipe.spec",
    "load": "nnrecipe.loading",
    "check": "nnrecipe.runner",
    "init_final_bias": "nnrecipe.checks.skeleton.init_bias",
    "watch": "nnrecipe.watching",
}
#: submodules of the public API, imported on first use (`nr.testing.assert_checks`)
_LAZY_MODULES = {"testing": "nnrecipe.testing"}

if TYPE_CHECKING:
    from nnrecipe import testing
    from nnrecipe.checks.skeleton.init_bias import init_final_bias
    from nnrecipe.errors import DataError, NnrecipeError, SpecError
    from nnrecipe.experiment import Experiment
    from nnrecipe.loading import load
    from nnrecipe.results import CheckResult, RunResult, StepResult
    from nnrecipe.runner import check
    from nnrecipe.spec import load_spec
    from nnrecipe.watching import watch


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nnrecipe' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
