"""The recipe on the user's own model (CONTRACT §5): knobs checked where they are written, a ladder that climbs
them, regularizer knobs kept only when they help, and the experiment as written as the yardstick."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tiny_spec
import torch
from rich.console import Console
from torch import nn

import toy
from nnrecipe import knobs
from nnrecipe.checks.context import CheckContext
from nnrecipe.errors import SpecError
from nnrecipe.report.html import render_html
from nnrecipe.report.terminal import render_result
from nnrecipe.steps import overfit, pipeline, regularize
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.context import RunContext, Settled
from nnrecipe.steps.journal import Journal
from nnrecipe.steps.pipeline import run_pipeline
from nnrecipe.steps.training import build_model
from nnrecipe.steps.units import UnitResult

CPU = torch.device("cpu")
TESTS = Path(__file__).parent.parent


class Net(nn.Module):
    def __init__(self, hidden: int = 64, layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        if hidden % 2:
            raise ValueError("hidden must be even")
        sizes = [8] + [hidden] * layers
        blocks = [m for a, b in zip(sizes, sizes[1:], strict=False) for m in (nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout))]
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(sizes[-1], 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def net(hidden: int = 64, layers: int = 2, dropout: float = 0.0) -> nn.Module:
    return Net(hidden, layers, dropout)


# -- validation, where the user wrote it


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"capacity": {"hiden": [16, 32]}}, ["'capacity'", "'hiden' is not a keyword parameter", "did you mean 'hidden'",
                                             "hidden, layers, dropout"]),
        ({"capacity": {"hidden": []}}, ["'capacity'", "'hidden' is empty"]),
        ({"capacity": [16, 32]}, ["'capacity'", "expected a dict", "got a list"]),
        ({"regularizers": {"dropout": 0.1}}, ["'regularizers'", "expected a list of values", "'dropout'", "float"]),
        ({"capacity": {"hidden": [16, 33]}}, ["'capacity'", "rejects hidden=33", "ValueError", "hidden must be even"]),
        ({"capacity": {"hidden": [16, nn.ReLU]}}, ["numbers, strings or booleans", "'hidden'"]),
        ({"capacity": {"dropout": [0.0]}, "regularizers": {"dropout": [0.1]}}, ["'dropout' is also in 'capacity'"]),
        ({"model": lambda: net(), "capacity": {"hidden": [16]}}, ["takes none", "model=lambda hidden=...:"]),
    ],
)
def test_wrong_knobs_are_a_spec_error_naming_the_knob(fields: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(SpecError) as caught:
        toy.classification(**{"model": net, **fields})
    for word in words:
        assert word in str(caught.value)


def test_knobs_of_a_class_a_partial_and_a_lambda_are_accepted_and_the_factory_defaults_are_read() -> None:
    import functools

    for factory in (Net, functools.partial(Net, layers=1), lambda hidden=64, layers=2, dropout=0.0: Net(hidden, layers)):
        exp = toy.classification(model=factory, capacity={"hidden": [16, 64, 128]}, regularizers={"dropout": [0.1]})
        hidden, dropout = knobs.declared(exp)
        assert (hidden.role, hidden.default, dropout.role, dropout.default) == ("capacity", 64, "regularizers", 0.0)
    rng = torch.random.get_rng_state()
    toy.classification(model=net, capacity={"hidden": [16, 256]})  # built once per end of the list, seeded apart
    assert torch.equal(rng, torch.random.get_rng_state())


def test_a_bad_knob_in_a_spec_file_exits_2_with_one_paragraph_and_no_traceback(tmp_path: Path) -> None:
    spec = tmp_path / "knobby.py"
    spec.write_text("import toy\n"
                    "from torch import nn\n"
                    "def experiment():\n"
                    "    return toy.classification(model=lambda hidden=32, layers=1: nn.Linear(8, 4),\n"
                    "                              capacity={'hiden': [16, 32, 64]})\n")
    proc = subprocess.run([sys.executable, "-m", "nnrecipe", "check", str(spec)], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(TESTS)}, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    message = proc.stderr.strip()
    assert "\n\n" not in message  # one paragraph
    words = " ".join(message.split())
    assert "'hiden' is not a keyword parameter of the model factory (did you mean 'hidden'?)" in words


# -- step 3: the ladder over the knobs, step 4: the regularizer knobs, with made-up trainings


def _fake_units(monkeypatch: pytest.MonkeyPatch, score: Any) -> list[TrainingConfig]:
    """Every unit of work "trains" in no time: its scores come from `score(config)`; the configs are recorded."""
    trained: list[TrainingConfig] = []

    def run_unit(run: RunContext, key: str, cfg: TrainingConfig, **_: Any) -> UnitResult:
        trained.append(cfg)
        val, train = score(cfg)
        unit = UnitResult(key=key, config=cfg, val=val, best_epoch=0, epochs_run=1, train=train)
        model = build_model(run.experiment, cfg, device=CPU, seed=0)
        run.journal.finish(key, unit.to_dict(), model_state=model.state_dict())
        return unit

    monkeypatch.setattr(overfit, "run_unit", run_unit)
    monkeypatch.setattr(regularize, "run_unit", run_unit)
    return trained


def _run(exp: Any, budget: str = "quick") -> RunContext:
    return RunContext(exp, CheckContext(exp, device=CPU, budget=budget), None, journal=Journal(None, {}))


def test_the_ladder_climbs_the_knobs_and_stops_at_the_first_rung_that_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    exp = toy.classification(model=net, capacity={"hidden": [16, 32, 64, 128, 256], "layers": [1, 2, 3, 4]})

    def score(cfg: TrainingConfig) -> tuple[dict[str, float], dict[str, float]]:
        size = cfg.knobs["hidden"] * cfg.knobs["layers"]
        fits = size >= 192  # only hidden 64 x layers 3 and above fit the training set
        return {"accuracy": 0.8, "loss": 0.5}, {"accuracy": 1.0 if fits else 0.7, "loss": 0.01 if fits else 0.6}

    trained = _fake_units(monkeypatch, score)
    step = overfit.run_overfit(_run(exp, "default")).result
    rows = step.details["ladder"]
    assert [r["change"] for r in rows] == ["hidden 32, one below the experiment's model",
                                           "hidden 32 -> 64 (the experiment's model)", "layers 2 -> 3"]
    assert [r["fit"] for r in rows] == [False, False, True] and step.status == "pass"
    assert len(trained) == 3  # the default budget allows 5 rungs: it stopped at the first that fit
    assert "hidden 64, layers 3 fits the training set" in step.summary
    assert rows[-1]["params"] > rows[0]["params"]


def test_regularizer_knobs_are_tried_weakest_first_and_kept_only_while_they_help(
        monkeypatch: pytest.MonkeyPatch) -> None:
    exp = toy.classification(model=net, capacity={"hidden": [32, 64, 128]},
                             regularizers={"dropout": [0.1, 0.3, 0.5]})
    gains = {0.0: 0.90, 0.1: 0.93, 0.3: 0.931, 0.5: 0.99}  # 0.3 is within the noise margin of 0.1: not kept

    def score(cfg: TrainingConfig) -> tuple[dict[str, float], dict[str, float]]:
        accuracy = gains[cfg.knobs.get("dropout", 0.0)] - (0.05 if cfg.knobs.get("hidden", 64) != 64 else 0.0)
        return {"accuracy": accuracy, "loss": 1 - accuracy}, {"accuracy": 1.0, "loss": 0.0}

    trained = _fake_units(monkeypatch, score)
    outcome = regularize.run_regularize(_run(exp, "default"), Settled(config=TrainingConfig(knobs={"hidden": 64},
                                                                                              batch_size=32)))
    step = outcome.result
    tried = {r["change"]: r for r in step.details["tried"]}
    assert tried["dropout 0.1"]["kept"] and tried["dropout 0.1"]["varies"] == ["knob:dropout"]
    assert not tried["dropout 0.3"]["kept"]
    assert "dropout 0.5" not in tried  # the climb stops at the first value that does not help
    assert not tried["smaller-model"]["kept"] and tried["smaller-model"]["varies"] == ["knob:hidden"]
    assert not tried["larger-model"]["kept"]
    assert outcome.config is not None
    assert outcome.config.knobs["dropout"] == 0.1 and outcome.config.knobs["hidden"] == 64
    assert outcome.findings is not None and "knob:dropout" in outcome.findings.mattered
    assert {c.knobs.get("hidden") for c in trained} == {32, 64, 128}  # one capacity step either way

    no_knobs = regularize.run_regularize(_run(toy.classification()), Settled(config=TrainingConfig(batch_size=32)))
    rows = no_knobs.result.details["tried"]
    notes = {r["change"]: r.get("note", "") for r in rows}
    assert "declares no regularizer knobs" in notes["regularizers"]
    assert "declares no capacity knobs" in notes["larger-model"]


# -- the experiment as written


@pytest.fixture(autouse=False)
def _steps_1_to_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "STEPS", pipeline.STEPS[:3])


def test_the_experiment_as_written_is_trained_recorded_and_shown_first(tmp_path: Path,
                                                                        _steps_1_to_3: None) -> None:
    exp = tiny_spec.experiment().replace(epochs=2)
    result = run_pipeline(exp, device="cpu", budget="quick", out_dir=tmp_path)
    doc = result.to_dict()
    baseline = doc["baseline"]
    assert baseline["epochs"] == 2 and baseline["seconds"] > 0
    assert set(baseline["scores"]) == {"val", "test"} and 0 <= baseline["scores"]["test"]["accuracy"] <= 1
    # trained exactly as written: the experiment's own optimizer (Adam 1e-2) from the factory's defaults
    again = run_pipeline(exp, device="cpu", budget="quick", out_dir=tmp_path)  # read back from the journal
    assert again.baseline["scores"] == baseline["scores"] and again.baseline["seconds"] == baseline["seconds"]

    console = Console(file=io.StringIO(), width=200, color_system=None)
    render_result(result, console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    table = text[text.index("┃ step"):]
    assert table.index("as written") < table.index("overfit")  # the first row
    assert "vs as written" in text and f"as written: val accuracy {baseline['scores']['val']['accuracy']:.4g}" in text
    page = render_html(result)
    assert '<tr class="as-written"><td>as written</td>' in page
    assert page.index('class="as-written"') < page.index('<td><a href="#stage-overfit">')
    assert "after the recipe" in page


def test_when_the_recipe_ends_worse_the_experiment_as_written_is_the_runs_model(_steps_1_to_3: None) -> None:
    # Adam 1e-2 for 3 epochs (as written) beats step 3's model, plain Adam 3e-4 until the training set is fit
    result = run_pipeline(tiny_spec.experiment(), device="cpu", budget="quick")
    overfit_step = next(s for s in result.steps if s.step == "overfit")
    written, recipe = result.baseline["scores"]["val"]["accuracy"], overfit_step.scores["val"]["accuracy"]
    assert written > recipe
    assert result.baseline["chosen"] and result.scores == result.baseline["scores"]
    assert "the experiment as written did better on validation" in overfit_step.summary
    analysis = overfit_step.details["error_analysis"]
    assert analysis["model"] == "the experiment as written"
    assert analysis["accuracy"] == pytest.approx(written)


# -- end to end, on a user's own MLP


SPEC = '''
import torch
from torch import nn
from torch.utils.data import TensorDataset
import nnrecipe as nr


def rings(n, seed):
    """Three classes in 2-D: a disk and two rings around it, with a margin between them."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    radius = torch.tensor([0.5, 1.5, 2.5])[y] + 0.3 * (torch.rand(n, generator=g) - 0.5)
    angle = 2 * torch.pi * torch.rand(n, generator=g)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return TensorDataset(x, y)


class MLP(nn.Module):
    def __init__(self, hidden, layers, dropout):
        super().__init__()
        sizes = [2] + [hidden] * layers
        self.body = nn.Sequential(*[m for a, b in zip(sizes, sizes[1:])
                                    for m in (nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout))])
        self.head = nn.Linear(sizes[-1], 3)

    def forward(self, x):
        return self.head(self.body(x))


def experiment():
    return nr.Experiment(
        name="rings", task="classification", train=rings(3000, 1), val=rings(600, 2), test=rings(600, 3),
        model=lambda hidden=16, layers=1, dropout=0.0: MLP(hidden, layers, dropout),
        capacity={"hidden": [2, 4, 16, 64], "layers": [1, 2, 3]},
        regularizers={"dropout": [0.1, 0.2]},
        # as written: a sound setup (its skeleton checks pass), trained for one epoch only
        optimizer=lambda p: torch.optim.Adam(p, lr=3e-3), epochs=1, batch_size=32,
    )
'''


@pytest.mark.slow
def test_run_on_a_users_own_mlp_climbs_its_knobs_and_beats_the_experiment_as_written(tmp_path: Path) -> None:
    spec = tmp_path / "rings.py"
    spec.write_text(SPEC)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "nnrecipe", "run", str(spec), "--budget", "quick", "--out", str(out),
                           "--device", "cpu"], capture_output=True, text=True, timeout=1500,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((out / "result.json").read_text())
    steps = {s["step"]: s for s in doc["steps"]}
    ladder = steps["overfit"]["details"]["ladder"]
    assert len(ladder) >= 2 and all(("hidden" in r["change"]) or ("layers" in r["change"]) for r in ladder)
    assert ladder[-1]["fit"] and not ladder[0]["fit"]
    baseline = doc["baseline"]
    assert baseline["epochs"] == 1 and "test" in baseline["scores"] and not baseline.get("chosen")
    assert doc["scores"]["test"]["accuracy"] > baseline["scores"]["test"]["accuracy"] + 0.1
    assert "error_analysis" in doc["steps"][-1]["details"]
    assert not math.isnan(doc["steps"][-1]["details"]["error_analysis"]["accuracy"])
    page = (out / "report.html").read_text()
    assert 'id="look-at-data"' in page and 'id="error-analysis"' in page and 'class="as-written"' in page
    assert "as written: val accuracy" in proc.stdout
