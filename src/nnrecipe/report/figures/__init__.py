"""The report's pictures: plain registries from a check id, a step id or a run figure key to the function
that draws it. A new picture is its function plus one line here. What they draw comes from the `Pictures`
beside the result (the result itself holds only the document's data).

Checks and steps without an entry still show well: the page always prints their summary, fix and a table
of their numbers; the picture is extra. A function that raises becomes a note (see `base.draw`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nnrecipe.report.figures import data, errors, inputs, look, skeleton, steps, training
from nnrecipe.report.figures.base import Picture, Table, draw
from nnrecipe.results import CheckResult, Pictures, RunResult, StepResult

__all__ = ["CHECK_FIGURES", "RUN_FIGURES", "STEP_FIGURES", "Picture", "RunFigure", "Table", "check_picture",
           "page_artifacts", "run_pictures", "step_picture"]

#: check id -> fn(CheckResult, material) -> Figure | Table | None, drawn from the check's `Pictures.checks` material
CHECK_FIGURES: dict[str, Callable[[CheckResult, Mapping[str, Any]], Any]] = {
    # step 1: become one with the data
    "corrupt": data.corrupt,
    "class-balance": data.class_balance,
    "duplicates": data.pairs,
    "near-duplicates": data.pairs,
    "split-leakage": data.pairs,
    "label-conflicts": data.pairs,
    "input-stats": data.input_stats,
    "outliers": data.outliers,
    "label-issues": data.label_issues,
    "sequence-alignment": data.fractions_table,
    # step 2: end-to-end skeleton
    "init-loss": skeleton.init_loss,
    "overfit-one-batch": skeleton.overfit_one_batch,
    "loss-decreases": skeleton.loss_decreases,
}

#: step id (StepResult.step) -> fn(StepResult, material) -> Figure | Table | None, drawn from the step's
#: `Pictures.steps` material (or its details, which hold the same rows)
STEP_FIGURES: dict[str, Callable[[StepResult, Mapping[str, Any]], Any]] = {
    "overfit": steps.overfit,  # the ablation ladder
    "regularize": steps.regularize,  # the learning curve and the changes tried
    "tune": steps.tune,  # score against trials, parameter importance
    "squeeze": steps.squeeze,  # single vs ensemble vs distilled, training longer
}


@dataclass(frozen=True)
class RunFigure:
    """A picture of one piece of the run's material (`Pictures.run[artifact]`), shown in the section of `stage`."""

    artifact: str
    title: str
    stage: str
    draw: Callable[[Any], Any]
    caption: str
    #: the numbers shown under the picture, read from the artifact
    numbers: Callable[[Any], Mapping[str, Any]] | None = None


RUN_FIGURES: tuple[RunFigure, ...] = (
    RunFigure("input_batch", "Exactly what goes into the net", "skeleton", inputs.input_batch,
              "The input tensor of the first batch of a real training, caught by a hook at the model's input "
              "(after every transform, and any augmentation that training uses), decoded back to data.",
              lambda art: {"from": art.get("from", "the final training"), **art.get("stats", {})}),
    RunFigure("prediction_dynamics", "Prediction dynamics", "skeleton", training.prediction_dynamics,
              "Predictions of the final training's model on one fixed validation batch, before training and "
              "after every epoch."),
    RunFigure("final_history", "Loss curves and learning rate", "training", training.history,
              "Training loss at every step, loss and metrics on the whole validation split after every epoch, "
              "and the learning rate the optimizer used at every step."),
    RunFigure("layer_stats", "First-layer weights", "training", training.first_layer,
              "The first layer's weights at initialization and at the end of training: trained filters should "
              "look smoother and more structured than the noise they started as."),
    RunFigure("layer_stats", "Activations and gradients per layer", "training", training.layer_statistics,
              "Per layer, on steps 0, 1, 3, 7, 15, ...: activation spread, dead units, gradient spread, and the "
              "size of the optimizer's step relative to the weights."),
    # look at the data: `check`, `audit` and `run` (from the data profile)
    RunFigure("look_at_data", "Random samples of every class and split", "look-at-data", look.montage,
              "Samples drawn at random from each split, a few per class (per third of the target's range for "
              "regression), decoded as data: look for wrong labels, odd preprocessing, classes that look alike."),
    RunFigure("look_at_data", "The extremes of each property", "look-at-data", look.extremes,
              "For each property of the samples (brightness and contrast of images; norm, mean, std, min and "
              "max of vectors; length of sequences), the lowest and the highest sample of each class."),
    # error analysis of the run's final model, on validation
    RunFigure("error_analysis", "Confusion matrix and per-class scores", "error-analysis", errors.confusion,
              "Rows are the target class, columns the predicted one; each row is shaded by the share of its "
              "samples. Precision: of the samples predicted as a class, the share right; recall: of a class's "
              "samples, the share found.", errors.summary),
    RunFigure("error_analysis", "The most confident mistakes", "error-analysis", errors.mistakes,
              "The validation samples the model got wrong with the highest confidence, with their inputs: a "
              "wrong label, an ambiguous sample or a blind spot of the model."),
    RunFigure("error_analysis", "Residuals against the target", "error-analysis", errors.residuals,
              "Prediction minus target for every validation sample: a slope means the model pulls its "
              "predictions toward the mean (or away), a shifted histogram a bias.", errors.summary),
    RunFigure("error_analysis", "The worst residuals", "error-analysis", errors.worst_residuals,
              "The validation samples the model is furthest off on, with their inputs."),
    RunFigure("error_analysis", "Loss per position", "error-analysis", errors.positions,
              "Mean cross-entropy and accuracy at each position of the validation sequences: the first "
              "positions have the least context.", errors.summary),
    RunFigure("error_analysis", "Tokens with the highest loss", "error-analysis", errors.hardest_tokens,
              "Target tokens ranked by their mean loss on validation (seen at least 5 times)."),
    RunFigure("error_analysis", "The worst predictions, in context", "error-analysis", errors.worst_positions,
              "The validation positions with the highest loss, with the input up to them."),
)


def check_picture(check: CheckResult, material: Mapping[str, Any]) -> Picture | None:
    """The picture of one check, drawn from its material (`Pictures.check(check.id)`)."""
    fn = CHECK_FIGURES.get(check.id)
    if fn is None or check.status in ("skip", "error"):
        return None
    return draw(check.id, fn, check, material)


def step_picture(step: StepResult, material: Mapping[str, Any]) -> Picture | None:
    """The picture of one step, drawn from its material (`Pictures.step(step.step)`) or else its details."""
    fn = STEP_FIGURES.get(step.step)
    return draw(step.step, fn, step, material) if fn is not None else None


def page_artifacts(result: RunResult, pictures: Pictures) -> Mapping[str, Any]:
    """The run's material, plus any a check caught under a run figure's name that the run lacks: `check` runs
    no final training, so its "what goes into the net" is the batch the checks' short run saw (loss-decreases
    carries it)."""
    names = {f.artifact for f in RUN_FIGURES}
    lent = {key: value for c in result.checks for key, value in pictures.check(c.id).items()
            if key in names and value is not None}
    return {**lent, **pictures.run}


def run_pictures(artifacts: Mapping[str, Any], stage: str) -> list[tuple[RunFigure, Picture]]:
    """The pictures of a section drawn from the run's material (`page_artifacts`), in registry order; absent
    ones left out."""
    out = []
    for figure in RUN_FIGURES:
        if figure.stage != stage or artifacts.get(figure.artifact) is None:
            continue
        picture = draw(figure.title, figure.draw, artifacts[figure.artifact])
        if picture is not None:
            out.append((figure, picture))
    return out
