"""What `nr.watch` promises around the loop: the files, the document, exceptions, logging, and the user's world
left as found."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from watched_loops import blobs, mlp, train

import nnrecipe as nr
from nnrecipe.errors import UsageError
from nnrecipe.results import RunResult
from nnrecipe.watching.checks.registry import WATCH_CHECKS


def test_exit_writes_the_document_and_the_report(tmp_path: Path) -> None:
    model = mlp()
    result = train(model, torch.optim.Adam(model.parameters(), lr=3e-3), 60, val=blobs(128, seed=2),
                   out=tmp_path / "run", planned_steps=60)
    document = json.loads((tmp_path / "run" / "result.json").read_text())
    assert document["command"] == "watch" and document["experiment"] == "tiny"
    assert [c["id"] for c in document["checks"]] == list(WATCH_CHECKS)
    assert {c["stage"] for c in document["checks"]} == {"training"}
    assert document["watch"]["steps"] == 60 and document["watch"]["planned_steps"] == 60
    assert isinstance(result, RunResult) and document == json.loads(json.dumps(result.to_dict()))
    page = (tmp_path / "run" / "report.html").read_text()
    for title in ("Exactly what goes into the net", "Loss curves and learning rate",
                  "Activations and gradients per layer", "Training, watched", "Training loss decreases"):
        assert title in page
    assert "nnrecipe watch" in page and page.count("data:image/png") >= 3


def test_an_exception_in_the_loop_propagates_and_the_files_are_still_written(tmp_path: Path) -> None:
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = blobs(256, seed=1)
    with pytest.raises(RuntimeError, match="the user's bug"), nr.watch(model, opt, out=tmp_path) as w:
        for step in range(100):
            loss = nn.functional.cross_entropy(model(x[:32]), y[:32])
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.log(loss)
            if step == 29:
                raise RuntimeError("the user's bug")
    document = json.loads((tmp_path / "result.json").read_text())
    assert document["watch"]["steps"] == 30
    assert document["watch"]["interrupted"] == "RuntimeError: the user's bug"
    assert (tmp_path / "report.html").stat().st_size > 0
    assert w.result.check("loss-decreases").status == "pass"  # what was seen is judged


def test_model_mode_parameters_and_random_state_are_left_as_found() -> None:
    def run(watched: bool) -> tuple[nn.Module, bytes, float, float]:
        random.seed(3)
        np.random.seed(3)
        torch.manual_seed(3)
        model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 4))  # dropout draws
        train(model, torch.optim.Adam(model.parameters(), lr=3e-3), 70, val=blobs(64, seed=2), watched=watched)
        return model, torch.get_rng_state().numpy().tobytes(), random.random(), float(np.random.rand())

    plain, watched = run(False), run(True)
    for p, q in zip(plain[0].parameters(), watched[0].parameters(), strict=True):
        assert torch.equal(p, q)  # the watcher changed nothing the training computed
    assert plain[1:] == watched[1:]  # and drew no random number
    assert watched[0].training
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in watched[0].modules())  # every hook removed


def test_the_optimizer_hooks_are_removed() -> None:
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    train(model, opt, 5)
    assert not opt._optimizer_step_pre_hooks and not opt._optimizer_step_post_hooks


def test_a_nan_at_step_40_is_logged_at_step_40(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nnrecipe.watch")
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = blobs(256, seed=1)
    seen_at: list[int] = []
    with nr.watch(model, opt) as w:
        for step in range(60):
            loss = nn.functional.cross_entropy(model(x[:32]), y[:32])
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.log(loss * float("nan") if step == 40 else loss)
            seen_at += [step for r in caplog.records if getattr(r, "nnrecipe_check", None) == "loss-finite"][:1]
    errors = [r for r in caplog.records if getattr(r, "nnrecipe_check", None) == "loss-finite"]
    assert len(errors) == 1 and errors[0].levelno == logging.ERROR
    assert errors[0].nnrecipe_step == 40 and "step 40" in errors[0].getMessage()
    assert seen_at[0] == 40  # logged while the loop was at step 40, not at the end


def test_the_library_prints_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    model = mlp()
    train(model, torch.optim.SGD(model.parameters(), lr=1e4), 20, out=tmp_path)  # a failing run, files written
    assert capsys.readouterr().out == ""


def test_without_an_optimizer_the_loss_and_gradients_are_still_watched() -> None:
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = blobs(512, seed=1)
    with nr.watch(model) as w:
        for step in range(80):
            idx = slice(step % 16 * 32, step % 16 * 32 + 32)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            w.log(loss.item())
    statuses = {c.id: c.status for c in w.result.checks}
    assert statuses["lr-schedule"] == "skip" and statuses["loss-decreases"] == "pass"
    assert statuses["params-update"] == "pass" and len(w.record.grad_norms) > 10


def test_an_out_folder_that_cannot_take_the_files_is_refused_before_the_loop(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(UsageError, match="expected a folder"), nr.watch(mlp(), out=tmp_path / "taken"):
        pytest.fail("the loop must not start")


def test_misuse_is_loud() -> None:
    model = mlp()
    with pytest.raises(UsageError, match="nn.Module"):
        nr.watch("not a model")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="planned_steps"):
        nr.watch(model, planned_steps=0)
    with pytest.raises(UsageError, match="Optimizer"):
        nr.watch(model, optimizer=[1, 2])
    w = nr.watch(model)
    with pytest.raises(UsageError, match="inside the `with"):
        w.log(1.0)
    with pytest.raises(UsageError, match="ready when"):
        _ = w.result
    with w, pytest.raises(UsageError, match="scalar"):
        w.log(torch.ones(3))
    with pytest.raises(UsageError, match="one loop"), w:
        pass


def test_device_scalars_are_read_in_one_go_in_the_order_they_came() -> None:
    """The path values on an accelerator take (here fed CPU tensors, the reading is the same)."""
    from nnrecipe.watching.record import Series
    from nnrecipe.watching.watcher import DeviceScalars

    losses, norms = Series(), Series()
    kept = DeviceScalars()
    kept.keep(losses, 0, torch.tensor(2.0))
    kept.keep(norms, 0, torch.tensor(0.5, dtype=torch.float64))
    kept.keep(losses, 1, 1.5)  # a float behind a kept tensor waits its turn
    assert kept.holds(losses) and not losses.values
    assert kept.read() and losses.steps == [0, 1] and losses.values == [2.0, 1.5] and norms.values == [0.5]
    kept.keep(losses, 2, torch.tensor(float("nan")))
    assert not kept.read() and not kept.holds(losses)
