"""The terminal view, rendered into a fixed-width console and compared as text: the checks table, each failure's
fix and each error, the steps table with the experiment as written first, the headline and the scores."""

from __future__ import annotations

import io

from rich.console import Console

from nnrecipe.report.terminal import render_result
from nnrecipe.results import CheckResult, RunResult, StepResult


def _rendered(result: RunResult, *, width: int = 100) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False, legacy_windows=False,
                      emoji=False)
    render_result(result, console, report_path="runs/blobs/report.html")
    return out.getvalue()


def _scores(val: float, test: float, loss: float) -> dict[str, dict[str, float]]:
    return {"val": {"accuracy": val, "loss": loss}, "test": {"accuracy": test, "loss": loss + 0.01}}


def _run_result() -> RunResult:
    checks = (
        CheckResult("init-loss", "skeleton", "fail", "loss at init 10.75, expected 2.30 = -log(1/10)",
                    fix="the final layer starts far from uniform: check its bias", seconds=0.42),
        CheckResult("duplicates", "data", "pass", "no duplicate inputs [/cat] in train", seconds=1.0),
        CheckResult("capacity", "skeleton", "error", "the check itself broke: RuntimeError: boom", seconds=0.1),
    )
    steps = (StepResult("overfit", "pass", "mlp fits the training set", scores=_scores(0.9, 0.88, 0.3), seconds=3.0),
             StepResult("regularize", "pass", "kept: augment", scores=_scores(0.95, 0.93, 0.2), seconds=5.0))
    return RunResult(experiment="blobs", checks=checks, steps=steps, scores=_scores(0.95, 0.93, 0.2), command="run",
                     baseline={"seconds": 1.5, "epochs": 3, "scores": _scores(0.85, 0.84, 0.4)})


EXPECTED = """\
┏━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━┓
┃ stage    ┃ check      ┃ status  ┃ summary                                        ┃   s ┃
┡━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━┩
│ skeleton │ init-loss  │ ✗ fail  │ loss at init 10.75, expected 2.30 = -log(1/10) │ 0.4 │
│ data     │ duplicates │ ✓ pass  │ no duplicate inputs [/cat] in train            │ 1.0 │
│ skeleton │ capacity   │ ? error │ the check itself broke: RuntimeError: boom     │ 0.1 │
└──────────┴────────────┴─────────┴────────────────────────────────────────────────┴─────┘
✗ fail init-loss: the final layer starts far from uniform: check its bias
? error capacity: the check itself broke: RuntimeError: boom
┏━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┓
┃ step       ┃ status ┃ val accuracy ┃ change ┃ test accuracy ┃ vs as written ┃ summary            ┃
┡━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━┩
│ as written │ ·      │         0.85 │        │          0.84 │               │ trained exactly as │
│            │        │              │        │               │               │ the spec says: 3   │
│            │        │              │        │               │               │ epochs, 1.5 s      │
│ overfit    │ ✓ pass │          0.9 │  +0.05 │          0.88 │         +0.05 │ mlp fits the       │
│            │        │              │        │               │               │ training set       │
│ regularize │ ✓ pass │         0.95 │  +0.05 │          0.93 │          +0.1 │ kept: augment      │
└────────────┴────────┴──────────────┴────────┴───────────────┴───────────────┴────────────────────┘
as written: val accuracy 0.85 -> after the recipe: 0.95 (test 0.84 -> 0.93)
val: accuracy 0.95, loss 0.2
test: accuracy 0.93, loss 0.21
report: runs/blobs/report.html
"""


def test_a_run_renders_as_the_expected_text() -> None:
    assert _rendered(_run_result()) == EXPECTED


def test_summaries_print_as_written_never_as_markup() -> None:
    assert "no duplicate inputs [/cat] in train" in _rendered(_run_result())


def test_a_check_result_alone_shows_no_steps_table_and_no_scores() -> None:
    result = RunResult(experiment="blobs", checks=(CheckResult("init-loss", "skeleton", "pass", "loss at init 2.3"),))
    text = _rendered(result)
    assert "init-loss" in text and "✓ pass" in text
    assert "as written" not in text and "val:" not in text
