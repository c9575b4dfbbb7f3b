"""The engine: seeded and deterministic, evaluates the whole validation set, leaves modes and RNG as found."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

import toy
from nnrecipe.engine.checkpoint import load_checkpoint, save_checkpoint
from nnrecipe.engine.data import Batches
from nnrecipe.engine.loop import Callback, Optimization, evaluate, fit

CPU = torch.device("cpu")


def train_losses(exp, seed: int = 0) -> list[float]:
    torch.manual_seed(seed)
    model = exp.model()
    return fit(model, exp, device=CPU, epochs=2).step_losses


def test_same_seed_gives_the_identical_loss_sequence() -> None:
    exp = toy.classification()
    a, b = train_losses(exp), train_losses(exp)
    assert a == b and len(a) == 2 * 16


def test_another_seed_gives_another_data_order() -> None:
    assert train_losses(toy.classification(seed=0)) != train_losses(toy.classification(seed=1))


def test_augmentation_is_seeded_from_the_experiment() -> None:
    def jitter(x, y):
        return x + 0.1 * torch.randn_like(x), y  # draws from the global RNG, which fit seeds

    exp = toy.classification(augment=jitter)
    assert train_losses(exp) == train_losses(exp)


def test_fit_leaves_global_random_state_and_mode_as_found() -> None:
    exp = toy.classification()
    model = exp.model().eval()
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    fit(model, exp, device=CPU, evaluate_on=exp.val, epochs=1)
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
    assert not model.training


def test_evaluate_covers_the_entire_validation_set_in_eval_mode() -> None:
    seen: list[int] = []

    class Probe(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = toy.mlp()
            self.drop = nn.Dropout(0.9)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            assert not self.training, "evaluation must run in eval mode"
            seen.append(len(x))
            return self.drop(self.net(x))

    exp = toy.classification(model=Probe)
    model = Probe().train()
    scores = evaluate(model, exp.val, exp, device=CPU, batch_size=100)
    assert sum(seen) == len(exp.val) == 256 and model.training
    assert set(scores) == {"loss", "accuracy"} and 0.0 <= scores["accuracy"] <= 1.0


def test_regression_scores_are_mse_and_mae() -> None:
    exp = toy.regression()
    scores = evaluate(exp.model(), exp.val, exp, device=CPU)
    assert set(scores) == {"loss", "mse", "mae"} and abs(scores["loss"] - scores["mse"]) < 1e-6


def test_users_train_step_is_used() -> None:
    calls = []

    def my_step(model, batch, optimizer):
        calls.append(len(batch[0]))
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        return loss

    exp = toy.classification(train_step=my_step)
    fit(exp.model(), exp, device=CPU, epochs=1)
    assert sum(calls) == 512


def test_scheduler_is_stepped_at_its_interval() -> None:
    def sched(opt):
        return torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    per_epoch = fit(toy.mlp(), toy.classification(scheduler=sched), device=CPU, epochs=2)
    per_step = fit(toy.mlp(), toy.classification(scheduler=sched, scheduler_interval="step"), device=CPU, epochs=1)
    assert per_epoch.step_lrs[0] == per_epoch.step_lrs[15] == 3e-3 and per_epoch.step_lrs[16] == 1.5e-3
    assert per_step.step_lrs[:3] == [3e-3, 1.5e-3, 7.5e-4]


def test_validation_metrics_every_epoch_and_early_stop_callback() -> None:
    class StopAfterTwo(Callback):
        def on_epoch_end(self, record, model) -> bool:
            return record.epoch >= 1

    exp = toy.classification(epochs=5)
    history = fit(toy.mlp(), exp, device=CPU, evaluate_on=exp.val, callbacks=[StopAfterTwo()])
    assert [e.epoch for e in history.epochs] == [0, 1] and history.stopped_early
    assert all({"loss", "accuracy"} <= set(e.val) for e in history.epochs)


def test_without_evaluate_on_no_epoch_is_evaluated() -> None:
    history = fit(toy.mlp(), toy.classification(), device=CPU, epochs=2)
    assert len(history.epochs) == 2 and all(e.val == {} for e in history.epochs)


def test_an_optimization_replaces_the_experiments_optimizer_and_schedule() -> None:
    def halve(opt):
        return torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    exp = toy.classification(scheduler=halve)
    model = toy.mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen: list[torch.optim.Optimizer] = []

    class Spy(Callback):
        def on_train_start(self, model, optimizer) -> None:
            seen.append(optimizer)

    history = fit(model, exp, device=CPU, epochs=2, optimization=Optimization(opt), callbacks=[Spy()])
    assert seen == [opt] and set(history.step_lrs) == {0.1}  # no schedule given: the experiment's is not used
    scheduled = fit(toy.mlp(), exp, device=CPU, epochs=2)  # no optimization given: the experiment's own
    assert scheduled.step_lrs[0] == 3e-3 and scheduled.step_lrs[-1] == 1.5e-3


def test_generic_datasets_go_through_a_seeded_dataloader() -> None:
    class Plain(Dataset):
        def __init__(self) -> None:
            self.inner = toy.blobs(100)

        def __len__(self) -> int:
            return len(self.inner)

        def __getitem__(self, i: int):
            return self.inner[i]

    a = [y.tolist() for _, y in Batches(Plain(), batch_size=32, shuffle=True, seed=3)]
    b = [y.tolist() for _, y in Batches(Plain(), batch_size=32, shuffle=True, seed=3)]
    assert a == b and sum(map(len, a)) == 100


def test_checkpoint_round_trip_and_atomic_write(tmp_path: Path) -> None:
    model = toy.mlp()
    path = tmp_path / "ck" / "model.pt"
    save_checkpoint(path, model=model.state_dict(), epoch=3)
    restored = toy.mlp()
    restored.load_state_dict(load_checkpoint(path)["model"])
    x = torch.randn(4, 8)
    assert torch.equal(model(x), restored(x))
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary file left behind
