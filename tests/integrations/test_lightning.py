"""Lightning: the callback inside a real `Trainer.fit`, and `Experiment.from_lightning` under `nnrecipe check`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from tiny_lightning import BlobsData, Classifier, trainer

import nnrecipe as nr
from nnrecipe.cli import main
from nnrecipe.integrations.lightning import RecipeCallback

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _problems(result: nr.RunResult) -> dict[str, str]:
    return {c.id: f"{c.status}: {c.summary}" for c in result.checks if c.status in ("warn", "fail", "error")}


def test_a_healthy_fit_gets_no_fail_and_no_warn(tmp_path: Path) -> None:
    torch.manual_seed(0)
    callback = RecipeCallback(out=tmp_path / "run")
    trainer(max_steps=160, val_check_interval=16, callbacks=[callback]).fit(Classifier(step_lr=True), BlobsData())
    result = callback.result
    assert result is not None and _problems(result) == {}
    document = json.loads((tmp_path / "run" / "result.json").read_text())
    assert document["command"] == "watch" and document["watch"]["planned_steps"] == 160
    assert document["watch"]["val_losses"] == 10 and result.check("overfitting").status == "pass"
    assert result.check("lr-schedule").status == "pass" and result.check("input-stats").status == "pass"
    assert (tmp_path / "run" / "report.html").exists()


def test_a_fit_with_the_lr_far_off_gets_the_right_check(tmp_path: Path) -> None:
    torch.manual_seed(0)
    callback = RecipeCallback(out=tmp_path)
    trainer(max_epochs=5, callbacks=[callback], limit_val_batches=0).fit(Classifier(lr=1e-8), BlobsData())
    assert callback.result is not None
    assert callback.result.check("loss-decreases").status == "fail"
    assert "flat" in callback.result.check("loss-decreases").summary
    assert callback.result.watch["planned_steps"] == 5 * 16  # the Trainer's estimated stepping batches


def test_from_lightning_reads_the_module_and_the_datamodule() -> None:
    exp = nr.Experiment.from_lightning(module=lambda: Classifier(step_lr=True), datamodule=BlobsData(),
                                       name="blobs")
    assert exp.task == "classification" and exp.batch_size == 32 and len(exp.train) == 512 and len(exp.val) == 256
    assert exp.scheduler is not None and exp.scheduler_interval == "step"
    model = exp.model()
    optimizer = exp.optimizer(model.parameters())
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.param_groups[0]["lr"] == 3e-3
    assert {id(p) for p in optimizer.param_groups[0]["params"]} == {id(p) for p in model.parameters()}
    scheduler = exp.scheduler(optimizer)
    assert isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and scheduler.optimizer is optimizer
    x, y = next(iter(torch.utils.data.DataLoader(exp.train, batch_size=32)))
    before = [p.detach().clone() for p in model.parameters()]
    loss = exp.train_step(model, (x, y), optimizer)
    assert loss.dim() == 0 and all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_nnrecipe_check_passes_an_unchanged_lightning_module(tmp_path: Path) -> None:
    code = main(["check", str(HERE / "lightning_spec.py"), "--json", str(tmp_path / "r.json")])
    document = json.loads((tmp_path / "r.json").read_text())
    failed = {c["id"]: c["summary"] for c in document["checks"] if c["status"] in ("fail", "error")}
    assert code == 0 and failed == {}
    assert {"overfit-one-batch", "loss-decreases", "params-update", "init-loss"} <= {c["id"] for c in document["checks"]}


def test_nnrecipe_check_fails_a_softmax_before_the_cross_entropy(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNRECIPE_TEST_SOFTMAX", "1")
    code = main(["check", str(HERE / "lightning_spec.py"), "--json", str(tmp_path / "r.json")])
    statuses = {c["id"]: c["status"] for c in json.loads((tmp_path / "r.json").read_text())["checks"]}
    assert code == 1
    assert "fail" in (statuses["overfit-one-batch"], statuses["loss-decreases"])


@pytest.mark.slow
def test_under_ddp_only_rank_zero_watches_and_writes(tmp_path: Path) -> None:
    """Two CPU processes (gloo): both train, one folder is written, by rank zero, with every step seen."""
    callback = RecipeCallback(out=tmp_path / "run")
    trainer(max_steps=40, callbacks=[callback], strategy="ddp_spawn", devices=2, limit_val_batches=0).fit(
        Classifier(), BlobsData())
    document = json.loads((tmp_path / "run" / "result.json").read_text())
    assert document["watch"]["steps"] == 40 and document["watch"]["planned_steps"] == 40
    assert {"report.html", "result.json"} <= {p.name for p in (tmp_path / "run").iterdir()}
