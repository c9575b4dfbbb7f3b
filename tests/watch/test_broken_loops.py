"""Each online check catches its bug on a real tiny loop broken through the real mechanism."""

from __future__ import annotations

import torch
from torch import nn
from watched_loops import blobs, mlp, statuses, train


def test_lr_so_high_the_loss_overflows_fails_loss_finite() -> None:
    model = mlp()
    result = train(model, torch.optim.SGD(model.parameters(), lr=1e4), 40)
    check = result.check("loss-finite")
    assert check.status == "fail"
    assert check.evidence["first_step"] == 3 and "step 3" in check.summary
    assert "learning rate" in (check.fix or "")


def test_lr_so_low_the_loss_stays_flat_fails_loss_decreases() -> None:
    model = mlp()
    result = train(model, torch.optim.SGD(model.parameters(), lr=1e-7), 100)
    check = result.check("loss-decreases")
    assert check.status == "fail" and "flat" in check.summary


def test_a_schedule_that_collapses_the_lr_fails_lr_schedule() -> None:
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    step_lr = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.3)  # meant per epoch, stepped per batch
    result = train(model, opt, 120, scheduler=step_lr, planned_steps=1000)
    check = result.check("lr-schedule")
    assert check.status == "fail" and "collapsed" in check.summary
    assert check.evidence["collapsed_at"] < 100


def test_a_memorizing_model_whose_val_loss_turns_up_warns_overfitting() -> None:
    model = mlp(hidden=256)
    result = train(model, torch.optim.Adam(model.parameters(), lr=3e-3), 300, data=blobs(64, seed=1, noise=3.0),
                   val=blobs(512, seed=2, noise=3.0), val_every=10)
    check = result.check("overfitting")
    assert check.status == "warn", check.summary
    assert check.evidence["rise_in_noise"] > 3 and "memorizing" in (check.fix or "")


def test_one_corrupted_batch_of_huge_values_fails_gradient_spike() -> None:
    model = mlp()
    result = train(model, torch.optim.SGD(model.parameters(), lr=0.05), 200,
                   inputs=lambda step, x: x * 1000 if step == 101 else x)
    check = result.check("gradient-spike")
    assert check.status == "fail" and "did not recover" in check.summary
    assert 101 <= check.evidence["spikes"][0]["step"] <= 104  # the norm is read every 8 steps: 96, 104, ...


def test_a_parameter_left_out_of_the_optimizer_fails_params_update() -> None:
    model = mlp()
    head = list(model[4].parameters())
    held = [p for p in model.parameters() if all(p is not h for h in head)]
    result = train(model, torch.optim.Adam(held, lr=3e-3), 40)
    check = result.check("params-update")
    assert check.status == "fail" and "4.weight" in check.summary and "not in the optimizer" in check.summary


def test_a_layer_defined_but_not_used_fails_params_update() -> None:
    class Detour(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body, self.unused = mlp(), nn.Linear(8, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x)

    model = Detour()
    result = train(model, torch.optim.Adam(model.parameters(), lr=3e-3), 40)
    check = result.check("params-update")
    assert check.status == "fail" and "unused.weight" in check.summary and "never got a gradient" in check.summary


def test_units_dead_at_init_fail_gradient_health() -> None:
    model = mlp()
    with torch.no_grad():
        model[0].bias.fill_(-100.0)  # every unit of the first ReLU is negative on every input
    result = train(model, torch.optim.Adam(model.parameters(), lr=3e-3), 40)
    check = result.check("gradient-health")
    assert check.status == "fail" and "dead" in check.summary and "1 (ReLU)" in check.summary


def test_nan_inputs_fail_input_stats() -> None:
    def with_nan(step: int, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        x[0, 0] = float("nan")
        return x

    model = mlp()
    result = train(model, torch.optim.Adam(model.parameters(), lr=3e-3), 20, inputs=with_nan)
    check = result.check("input-stats")
    assert check.status == "fail" and "NaN" in check.summary and "step 0" in check.summary
    assert statuses(result)["loss-finite"] == "fail"


def test_unscaled_inputs_warn_input_stats() -> None:
    model = mlp()
    result = train(model, torch.optim.Adam(model.parameters(), lr=3e-3), 40, inputs=lambda step, x: x * 80 + 120)
    check = result.check("input-stats")
    assert check.status == "warn" and "not normalized" in check.summary
