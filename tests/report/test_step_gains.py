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
    assert rows[0] == {"val": "", "test": "", "change": ""}
    assert rows[1] == {"val": "0.95", "test": "0.94", "change": ""}  # the first scored step has nothing to gain over
    assert rows[2]["change"] == "+0.035" and rows[2]["test"] == "0.99"
    assert rows[4]["change"] == "-0.005"  # measured against regularize: the skipped step is passed over
    regression = [StepResult("overfit", "pass", "", scores={"val": {"loss": 2.0}}),
                  StepResult("regularize", "pass", "", scores={"val": {"loss": 1.5}})]
    assert gain_metric(regression) == "loss" and step_gains(regression)[1]["change"] == "-0.5"
