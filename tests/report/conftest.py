"""Results to render: real checks and a real training with the report's recorders, on tiny seeded data."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import nnrecipe as nr
import toy
from nnrecipe.engine.loop import fit
from nnrecipe.engine.observe import collect, training_recorders
from nnrecipe.results import Pictures, Report, RunResult, StepResult
from nnrecipe.runner import check_report

XSS = "<script>alert(1)</script>"
FAST_CHECKS = ["init-loss", "overfit-one-batch", "loss-decreases"]


def tiny_images(n: int, *, seed: int) -> TensorDataset:
    """8x8 one-channel images: class 0 is bright on the left half, class 1 on the right."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = 0.3 * torch.randn(n, 1, 8, 8, generator=gen)
    x[y == 0, :, :, :4] += 1.0
    x[y == 1, :, :, 4:] += 1.0
    return TensorDataset(x, y)


def image_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 2))


def image_experiment(**overrides: Any) -> nr.Experiment:
    fields: dict[str, Any] = dict(
        name=XSS, task="classification", train=tiny_images(128, seed=1), val=tiny_images(64, seed=2),
        model=image_net, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), batch_size=16, epochs=3,
        class_names=[XSS, "right"], kind="image",
    )
    fields.update(overrides)
    return nr.Experiment(**fields)


def trained_artifacts(exp: nr.Experiment) -> dict[str, Any]:
    recorders = training_recorders(exp)
    model = exp.model()
    history = fit(model, exp, device=torch.device("cpu"), evaluate_on=exp.val, callbacks=recorders)
    return {**collect(recorders), "final_history": history}


def run_like(exp: nr.Experiment) -> Report:
    """What `run` hands the report: checks, steps with details, scores, and beside them the checks' pictures and
    the final training's recordings."""
    checked = check_report(exp, ids=FAST_CHECKS, device="cpu")
    steps = (StepResult("overfit", "pass", f"rung {XSS} fit",
                        details={"ladder": [{"rung": 0, "change": XSS, "val_loss": 0.5}], "epochs": 3}),)
    result = RunResult(experiment=exp.name, checks=checked.result.checks, steps=steps, command="run",
                       scores={"val": {"loss": 0.3, "accuracy": 0.9}})
    return Report(result, Pictures(checks=checked.pictures.checks, run=trained_artifacts(exp)))


@pytest.fixture(scope="session")
def image_run() -> Report:
    torch.set_num_threads(1)
    return run_like(image_experiment())


@pytest.fixture(scope="session")
def classification_check() -> Report:
    torch.set_num_threads(1)
    return check_report(toy.classification(), ids=FAST_CHECKS, device="cpu")
