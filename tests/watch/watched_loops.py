"""Tiny real training loops for the watch tests: seeded data, small models, and one knob per way to break them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

import nnrecipe as nr
from nnrecipe.results import RunResult

Batch = tuple[torch.Tensor, torch.Tensor]


def blobs(n: int, *, seed: int, features: int = 8, classes: int = 4, noise: float = 1.0) -> Batch:
    """Gaussian blobs around fixed class centres: learnable, inputs roughly standardized."""
    centres = torch.randn(classes, features, generator=torch.Generator().manual_seed(1234)) * 1.5
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=gen)
    return centres[y] + noise * torch.randn(n, features, generator=gen), y


def mlp(features: int = 8, hidden: int = 32, classes: int = 4, *, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, classes))


def train(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int, *, out: Path | None = None,
          data: Batch | None = None, val: Batch | None = None, batch: int = 32, val_every: int = 10,
          planned_steps: int | None = None, scheduler: Any = None,
          inputs: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
          loss_fn: Callable[..., torch.Tensor] = nn.functional.cross_entropy, seed: int = 0,
          watched: bool = True) -> RunResult | None:
    """A plain loop: sample a batch, step, log. `inputs(step, x)` may corrupt what enters the net."""
    x_all, y_all = data if data is not None else blobs(1024, seed=1)
    gen = torch.Generator().manual_seed(seed)
    w: Any = nr.watch(model, optimizer, out=out, planned_steps=planned_steps, name="tiny") if watched else None
    if w is not None:
        w.__enter__()
    try:
        for step in range(steps):
            idx = torch.randint(0, len(x_all), (batch,), generator=gen)
            x, y = x_all[idx], y_all[idx]
            if inputs is not None:
                x = inputs(step, x)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            val_loss = None
            if val is not None and (step + 1) % val_every == 0:
                model.eval()
                with torch.no_grad():
                    val_loss = loss_fn(model(val[0]), val[1])
                model.train()
            if w is not None:
                w.log(loss, val_loss=val_loss)
    except BaseException as exc:
        if w is not None:
            w.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if w is None:
        return None
    w.__exit__(None, None, None)
    return w.result  # type: ignore[no-any-return]


def statuses(result: RunResult) -> dict[str, str]:
    return {c.id: c.status for c in result.checks}


def problems(result: RunResult) -> dict[str, str]:
    """Checks that did not pass (or skip), with their summaries."""
    return {c.id: f"{c.status}: {c.summary}" for c in result.checks if c.status in ("warn", "fail", "error")}
