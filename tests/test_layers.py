"""The layers hold: every import inside nnrecipe (lazy ones in functions too) points down or sideways, never up.

Lowest first (README, "Architecture"): the plain data and the seed (errors, results, experiment, progress, knobs, catalog, seeding) < engine <
builtin, spec < audit < checks < runner < steps < report, loading < the doors (cli, watching, integrations,
testing, the package's own lazy public API). A module may import its own layer and the ones below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "nnrecipe"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "results", "experiment", "progress", "knobs", "catalog", "seeding"),
    ("engine",),
    ("builtin", "spec"),
    ("audit",),
    ("checks",),
    ("runner",),
    ("steps",),
    ("report", "loading"),
    ("cli", "__main__", "watching", "integrations", "testing", "__init__"),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}

#: the documented exceptions, each a lazy import inside one function, with why
ALLOWED = {
    # Jupyter's display hook: a result shows itself as the report page, drawn by the report layer
    ("results", "report.html"): "RunResult._repr_html_ / Report._repr_html_",
    # the contract puts this constructor on Experiment (CONTRACT §4); it is a door, imported only when called
    ("experiment", "integrations.lightning"): "Experiment.from_lightning",
}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out.append((".".join(parts), path))
    return out


def _imported(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, target) for every nnrecipe module this one imports, relative imports resolved."""
    package = module.split(".")[:-1]  # a module's package; for an __init__ ("x.__init__"), its own
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name[len("nnrecipe."):]) for a in node.names if a.name.startswith("nnrecipe.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module == "nnrecipe":
                found += [(node.lineno, a.name) for a in node.names]
                continue
            elif node.module and node.module.startswith("nnrecipe."):
                target = node.module[len("nnrecipe."):]
            else:
                continue
            found.append((node.lineno, target))
    return found


def _layer(module: str) -> int:
    return RANK[module.split(".")[0]]


def upward_imports() -> list[str]:
    bad = []
    for module, path in _modules():
        mine = _layer(module)
        for line, target in _imported(module, path):
            top = target.split(".")[0]
            if top not in RANK or RANK[top] <= mine:
                continue
            if any(module.startswith(low) and target.startswith(high) for low, high in ALLOWED):
                continue
            bad.append(f"{path.relative_to(SRC.parent)}:{line} imports nnrecipe.{target} "
                       f"(layer {RANK[top]} above its own {mine})")
    return bad


def test_every_module_belongs_to_a_layer() -> None:
    unknown = sorted({m.split(".")[0] for m, _ in _modules()} - set(RANK))
    assert not unknown, f"modules with no layer in tests/test_layers.py: {unknown}"


def test_no_module_imports_a_layer_above_its_own() -> None:
    bad = upward_imports()
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_the_documented_exceptions_are_still_needed() -> None:
    """An exception that no longer occurs is taken off the list, so the list stays honest."""
    used = set()
    for module, path in _modules():
        for _, target in _imported(module, path):
            used |= {key for key in ALLOWED if module.startswith(key[0]) and target.startswith(key[1])}
    assert used == set(ALLOWED), f"unused exceptions: {set(ALLOWED) - used}"


@pytest.mark.parametrize("module, target, upward", [
    ("engine.loop", "report.html", True),
    ("steps.pipeline", "runner", False),
    ("audit.context", "checks.context", True),
])
def test_the_rule_itself(module: str, target: str, upward: bool) -> None:
    assert (_layer(target) > _layer(module)) is upward
