"""The gain of each step, as both views show it beside the steps."""

from __future__ import annotations

from nnrecipe.report.gains import gain_metric, step_gains
from nnrecipe.results import StepResult


def test_each_step_shows_its_scores_and_the_change_since_the_last_scored_step() -> None:
    steps = [
        StepResult("skeleton", "pass", "checks"),
        StepResult("overfit", "pass", "fits", scores={"val": {"accuracy": 0.95, "loss": 0.2},
                                                      "test": {"accuracy": 0.94}}),
        StepResult("regularize", "pass", "kept", scores={"val": {"accuracy": 0.985}, "test": {"accuracy": 0.99}}),
        StepResult("tune", "skip", "not run"),
        StepResult("squeeze", "pass", "ensemble", scores={"val": {"accuracy": 0.98}}),
    ]
    rows = step_gains(steps)
    assert gain_metric(steps) == "accuracy"
    assert rows[0] == {"val": "", "test": "", "change": "", "vs_baseline": ""}
    # without the experiment as written, the first scored step has nothing to gain over
    assert rows[1] == {"val": "0.95", "test": "0.94", "change": "", "vs_baseline": ""}
    assert rows[2]["change"] == "+0.035" and rows[2]["test"] == "0.99"
    assert rows[4]["change"] == "-0.005"  # measured against regularize: the skipped step is passed over
    regression = [StepResult("overfit", "pass", "", scores={"val": {"loss": 2.0}}),
                  StepResult("regularize", "pass", "", scores={"val": {"loss": 1.5}})]
    assert gain_metric(regression) == "loss" and step_gains(regression)[1]["change"] == "-0.5"


def test_with_the_experiment_as_written_every_step_shows_its_gain_against_it_and_the_table_starts_with_it() -> None:
    from nnrecipe.report.gains import baseline_row, headline
    from nnrecipe.results import RunResult

    steps = [StepResult("overfit", "pass", "fits", scores={"val": {"accuracy": 0.95}, "test": {"accuracy": 0.94}}),
             StepResult("regularize", "pass", "kept", scores={"val": {"accuracy": 0.97}, "test": {"accuracy": 0.96}})]
    baseline = {"seconds": 3.2, "epochs": 30, "scores": {"val": {"accuracy": 0.91}, "test": {"accuracy": 0.90}}}
    rows = step_gains(steps, baseline)
    assert rows[0]["change"] == "+0.04" and rows[0]["vs_baseline"] == "+0.04"  # the first step gains over it
    assert rows[1]["change"] == "+0.02" and rows[1]["vs_baseline"] == "+0.06"
    first = baseline_row(baseline, steps)
    assert first is not None and (first["val"], first["test"]) == ("0.91", "0.9") and "30 epochs" in first["summary"]
    result = RunResult("x", steps=tuple(steps), scores=steps[-1].scores, command="run", baseline=baseline)
    assert headline(result) == "as written: val accuracy 0.91 -> after the recipe: 0.97 (test 0.9 -> 0.96)"
    assert baseline_row({}, steps) is None and headline(RunResult("x", steps=tuple(steps), command="run")) is None
    assert "could not be trained" in baseline_row({"error": "ValueError: no"}, steps)["summary"]  # type: ignore[index]
