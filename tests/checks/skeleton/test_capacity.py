"""capacity: twice the width must lower the short run's training loss."""

from __future__ import annotations

from torch import nn

import nnrecipe as nr
import toy
from nnrecipe.checks.skeleton.capacity import Capacity, CapacityEvidence, CapacityThresholds


def status(exp: nr.Experiment) -> str:
    return nr.check(exp, ids=["capacity"], device="cpu").check("capacity").status


def test_correct_setup_passes_and_softmax_before_loss_warns() -> None:
    assert status(toy.sequence()) == "pass"
    softmaxed = lambda: nn.Sequential(toy.mlp(hidden=4), nn.Softmax(-1))  # noqa: E731
    assert status(toy.classification(model=softmaxed, optimizer=lambda p: __import__("torch").optim.SGD(p, lr=1e-3))) == "warn"


def test_judge_without_torch() -> None:
    judge, t = Capacity().judge, CapacityThresholds()

    def runs(base: list[float], big: list[float]) -> CapacityEvidence:
        return CapacityEvidence(parameters=100, parameters_doubled=200, base=base, big=big)

    assert judge(runs([2.0] * 10 + [1.0] * 10, [2.0] * 10 + [0.8] * 10), t).status == "pass"
    # A run that learns well but ends a little above at twice the width: batch noise, not a bottleneck.
    assert judge(runs([2.0] * 10 + [1.0] * 10, [2.0] * 10 + [1.1] * 10), t).status == "pass"
    # A run that stalls, and width does not help: worth a look.
    assert judge(runs([2.0] * 10 + [1.9] * 10, [2.0] * 10 + [1.95] * 10), t).status == "warn"


class ReadsItsConfig(nn.Module):
    """A model whose loss reads an attribute of it (like `model.config.vocab_size` in real code)."""

    def __init__(self) -> None:
        super().__init__()
        self.classes = 4
        self.net = toy.mlp()

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.net(x)


class LossInsideForward(nn.Module):
    """minGPT's style: forward(x, targets) returns (logits, loss), and the step uses that loss."""

    def __init__(self) -> None:
        super().__init__()
        self.net = toy.mlp()

    def forward(self, x, targets=None):  # type: ignore[no-untyped-def]
        logits = self.net(x)
        loss = None if targets is None else __import__("torch").nn.functional.cross_entropy(logits, targets)
        return logits, loss


def own_loss_step(model, batch, optimizer):  # type: ignore[no-untyped-def]
    x, y = batch
    optimizer.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    return loss


def test_model_attributes_read_through_and_an_uncombinable_step_skips() -> None:
    def step(model, batch, optimizer):  # type: ignore[no-untyped-def]
        x, y = batch
        optimizer.zero_grad()
        out = model(x)
        loss = __import__("torch").nn.functional.cross_entropy(out.reshape(-1, model.classes), y)
        loss.backward()
        optimizer.step()
        return loss

    assert status(toy.classification(model=ReadsItsConfig, train_step=step)) in ("pass", "warn")
    got = nr.check(toy.classification(model=LossInsideForward, train_step=own_loss_step), ids=["capacity"],
                   device="cpu").check("capacity")
    assert got.status == "skip" and "width" in got.summary
