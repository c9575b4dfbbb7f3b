"""Correct loops stay silent (no fail, no warn, nothing logged), including the ones that look alarming."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn
from watched_loops import blobs, mlp, problems, train

import nnrecipe as nr


@pytest.fixture
def watch_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="nnrecipe.watch")
    return caplog


def _findings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "nnrecipe.watch" and r.levelno >= logging.WARNING]


def test_a_healthy_loop_gets_no_fail_and_no_warn(watch_log: pytest.LogCaptureFixture) -> None:
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=200)
    result = train(model, opt, 200, val=blobs(256, seed=2), scheduler=cosine, planned_steps=200)
    assert problems(result) == {}
    assert {c.status for c in result.checks} == {"pass"}
    assert _findings(watch_log) == []


def test_a_short_noisy_run_still_descending_passes(watch_log: pytest.LogCaptureFixture) -> None:
    model = mlp()
    result = train(model, torch.optim.SGD(model.parameters(), lr=0.02), 40, batch=2,
                   data=blobs(1024, seed=1, noise=2.5))
    check = result.check("loss-decreases")
    assert check.status == "pass", check.summary
    assert problems(result) == {}
    assert _findings(watch_log) == []


def test_a_single_spike_that_recovers_passes(watch_log: pytest.LogCaptureFixture) -> None:
    model = mlp()
    # on a step whose gradient norm is read (every 8th), so the spike is seen and its recovery judged
    result = train(model, torch.optim.Adam(model.parameters(), lr=3e-3), 200,
                   inputs=lambda step, x: x * 30 if step == 104 else x)
    check = result.check("gradient-spike")
    assert check.status == "pass" and "one gradient spike" in check.summary and "recovered" in check.summary
    assert problems(result) == {}
    assert _findings(watch_log) == []


def test_a_val_loss_converged_to_a_noisy_floor_passes(watch_log: pytest.LogCaptureFixture) -> None:
    """Validated on small random batches, the validation loss wanders around its floor: that is not a rise."""
    x, y = blobs(4096, seed=1)
    vx, vy = blobs(4096, seed=2)
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    order, val_order = torch.Generator().manual_seed(0), torch.Generator().manual_seed(5)
    with nr.watch(model, opt) as w:
        for step in range(600):
            idx = torch.randint(0, len(x), (32,), generator=order)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            val = None
            if (step + 1) % 10 == 0:
                j = torch.randint(0, len(vx), (64,), generator=val_order)
                with torch.no_grad():
                    val = nn.functional.cross_entropy(model(vx[j]), vy[j])
            w.log(loss, val_loss=val)
    assert w.result.check("overfitting").status == "pass"
    assert problems(w.result) == {}
    assert _findings(watch_log) == []
