"""Results with the two sections about the data itself: "look at the data" and the error analysis, one per kind of
data (images, signals, table rows, regression targets, token sequences), on tiny seeded experiments."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from conftest import image_experiment
from nnrecipe.audit.look import DataView
from nnrecipe.checks.context import CheckContext
from nnrecipe.engine.loop import evaluate, fit
from nnrecipe.results import Pictures, Report, RunResult, StepResult
from nnrecipe.steps.error_analysis import analyse

CPU = torch.device("cpu")
VOCAB = "abcdefghijklmnopqrstuvwx"  # toy.sequence's 24 token ids, as letters


def signals(n: int, *, seed: int) -> TensorDataset:
    """Signals of length 32: class 0 a slow sine, class 1 a fast one, class 2 a step; with noise."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    t = torch.linspace(0, 1, 32)
    shapes = torch.stack([torch.sin(6 * t), torch.sin(20 * t), (t > 0.5).float() * 2 - 1])
    x = shapes[y] * (1 + 0.3 * torch.rand(n, 1, generator=gen)) + 1.5 * torch.randn(n, 32, generator=gen)
    return TensorDataset(x, y)


def signal_experiment() -> nr.Experiment:
    return nr.Experiment(name="signals", task="classification", train=signals(96, seed=1), val=signals(48, seed=2),
                         model=lambda: nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 3)),
                         optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), batch_size=16, epochs=2,
                         class_names=["slow", "fast", "step"], kind="signal")


EXPERIMENTS = {
    "image": image_experiment,
    "signal": signal_experiment,
    "table": lambda: toy.classification(test=toy.blobs(64, seed=3)),
    "regression": toy.regression,
    "sequence": lambda: toy.sequence(vocab=list(VOCAB)),
}


def sections_run(kind: str) -> Report:
    """What `run` hands the report for one kind of data: the data view and a trained model's error analysis."""
    exp = EXPERIMENTS[kind]()
    torch.manual_seed(0)
    model = exp.model()
    fit(model, exp, device=CPU, epochs=2)
    numbers, artifact = analyse(model, exp, device=CPU)
    scores = {"val": evaluate(model, exp.val, exp, device=CPU)}
    step = StepResult("squeeze", "pass", "trained", scores=scores, details={"error_analysis": numbers})
    view = DataView(CheckContext(exp, device=CPU), vocab=exp.vocab)
    material: dict[str, Any] = {"look_at_data": view, "error_analysis": artifact}
    return Report(RunResult(experiment=exp.name, steps=(step,), scores=scores, command="run"), Pictures(run=material))
