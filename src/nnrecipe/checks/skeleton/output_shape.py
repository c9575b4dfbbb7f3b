"""output-shape: the model's output fits the task — (B, C) logits for C classes, (B, T, V) for sequences,
the target's own shape for regression.

A (B, 1) output against (B,) targets broadcasts into a (B, B) loss; ten outputs for nine classes leave one
never trained; a sequence model that pools over time predicts one token per sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from nnrecipe.checks.base import ModelCheck, NoThresholds, Verdict
from nnrecipe.checks.context import ModelContext
from nnrecipe.engine.loop import mode
from nnrecipe.engine.outputs import expected_output_shape, forward, one_binary_logit

SAMPLES = 4


@dataclass(frozen=True)
class OutputShapeEvidence:
    task: str
    #: the shape of a fresh model's output on a small batch, and the shape the task expects
    output_shape: list[int]
    expected: list[int]
    #: whether the experiment sets num_classes (else the classes are read from the data: largest id + 1)
    num_classes_given: bool
    #: whether the output is floating-point
    floating: bool


class OutputShape(ModelCheck[OutputShapeEvidence, NoThresholds]):
    id = "output-shape"
    stage = "skeleton"
    title = "Output shape fits the task"
    needs_loss = False
    Thresholds = NoThresholds

    def measure(self, ctx: ModelContext) -> OutputShapeEvidence:
        x, y = ctx.batch(SAMPLES, "train", "output-shape")
        model = ctx.fresh_model("output-shape")
        with torch.no_grad(), mode(model, False):
            out = forward(model, x)
        return OutputShapeEvidence(task=ctx.task, output_shape=list(out.shape),
                                   expected=expected_output_shape(ctx.task, y, ctx.num_classes),
                                   num_classes_given=ctx.experiment.num_classes is not None,
                                   floating=bool(out.is_floating_point()))

    def judge(self, e: OutputShapeEvidence, t: NoThresholds) -> Verdict:
        got, want, task = e.output_shape, e.expected, e.task
        if not e.floating:
            return Verdict("fail", f"the model outputs integers (shape {got}); the loss needs floating-point "
                           "outputs", "return logits (or values), not argmax/rounded predictions")
        if got == want:
            return Verdict("pass", f"output {got} as expected for {task}")
        if one_binary_logit(task, got, want):
            return Verdict("pass", f"output {got}: one logit per sample for two classes (binary classification)")
        if task == "regression" and sorted(d for d in got if d != 1) == sorted(d for d in want if d != 1):
            return Verdict("fail", f"output {got} but targets {want}: the loss broadcasts them into a matrix",
                           "make the output the target's shape: squeeze the last dimension (or unsqueeze the target)")
        extra_classes = (task != "regression" and len(got) == len(want) and got[:-1] == want[:-1]
                         and got[-1] > want[-1] and not e.num_classes_given)
        if extra_classes:
            return Verdict("warn", f"output {got}: {got[-1]} classes but the data shows only {want[-1]} "
                           "(largest id + 1)", "if that is deliberate, set num_classes; otherwise match the "
                           "final layer to the number of classes")
        return Verdict("fail", f"output {got}, expected {want} for {task}",
                       "the final layer does not fit the task: (B, C) logits for classification, (B, T, V) for "
                       "sequences, the target's shape for regression")
