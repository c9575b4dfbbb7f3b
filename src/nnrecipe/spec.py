"""Load an experiment from a spec: a Python file defining `experiment()`, or the name of a built-in."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import sys
from pathlib import Path

from nnrecipe.errors import NnrecipeError, SpecError, did_you_mean
from nnrecipe.experiment import Experiment


def load_spec(spec: str | Path | None = None) -> Experiment:
    """The experiment a spec describes. None means the built-in default, `mnist1d`."""
    from nnrecipe.builtin import BUILTINS, load_builtin

    text = "mnist1d" if spec is None else str(spec)
    if text in BUILTINS:
        return _remember(load_builtin(text), text)
    path = Path(text)
    if path.suffix != ".py" and not path.exists():
        raise SpecError(
            f"spec {text!r}: expected a Python file defining experiment() or a built-in name "
            f"({', '.join(BUILTINS)}), but it is neither{did_you_mean(text, BUILTINS)}"
        )
    return _remember(load_spec_file(path), str(path.resolve()))


def _remember(exp: Experiment, source: str) -> Experiment:
    """The experiment with where it came from in `meta["spec"]`, so a saved model can be rebuilt
    (`nnrecipe.load`): a copy, never the object the spec built (a spec may hand out one it keeps)."""
    if "spec" in exp.meta:
        return exp
    return dataclasses.replace(exp, meta={**exp.meta, "spec": source})


def load_spec_file(path: Path) -> Experiment:
    if not path.is_file():
        raise SpecError(f"spec file {str(path)!r} does not exist")
    if path.suffix != ".py":
        raise SpecError(f"spec file {str(path)!r}: expected a Python file (.py) defining experiment()")
    # named by the file, the same in every process: a worker process checks the run's functions by their
    # qualified names (`steps.pool.identity`); the module is never put in sys.modules, so two loads never clash
    module_name = f"nnrecipe_spec_{path.stem}_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path.resolve())
    assert loader_spec is not None and loader_spec.loader is not None
    module = importlib.util.module_from_spec(loader_spec)
    folder = str(path.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)  # a spec may import its neighbours
    try:
        loader_spec.loader.exec_module(module)
        factory = getattr(module, "experiment", None)
        if not callable(factory):
            raise SpecError(f"spec file {str(path)!r}: expected a function experiment() returning an nnrecipe.Experiment, "
                            "but the file defines none")
        exp = factory()
    except NnrecipeError as exc:
        if isinstance(exc, SpecError) and str(path) in str(exc):
            raise
        raise type(exc)(f"spec file {str(path)!r}: {exc}") from exc
    except SyntaxError as exc:
        raise SpecError(f"spec file {str(path)!r} has a syntax error at line {exc.lineno}: {exc.msg}") from exc
    except (Exception, SystemExit) as exc:  # a spec that calls sys.exit() is a broken spec, not our exit code
        raise SpecError(f"spec file {str(path)!r} raised {type(exc).__name__} while loading: {exc}") from exc
    finally:
        if added:
            sys.path.remove(folder)
    if not isinstance(exp, Experiment):
        raise SpecError(f"spec file {str(path)!r}: experiment() must return an nnrecipe.Experiment, but returned a "
                        f"{type(exp).__name__}")
    check_model_factory(exp)
    return exp


def check_model_factory(exp: Experiment) -> None:
    """The model factory must build an nn.Module: a factory that raises is a spec error, not a failed check."""
    from nnrecipe.engine.preflight import build_model

    build_model(exp)
