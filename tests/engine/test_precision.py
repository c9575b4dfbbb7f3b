"""bf16 autocast in the standard step: the forward pass runs in bf16, weights and optimizer stay fp32, and the
model still learns; a train_step of one's own keeps its own arithmetic."""

from __future__ import annotations

import torch

import toy
from nnrecipe.engine.loop import fit

CPU = torch.device("cpu")


def _train(precision: str, **overrides: object) -> tuple[torch.nn.Module, list[torch.dtype], list[float]]:
    exp = toy.classification(**overrides)
    torch.manual_seed(0)
    model = exp.model()
    seen: list[torch.dtype] = []
    model[0].register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    history = fit(model, exp, device=CPU, epochs=3, precision=precision)  # type: ignore[arg-type]
    return model, seen, [e.train_loss for e in history.epochs]


def test_bf16_runs_the_forward_pass_in_bf16_keeps_fp32_weights_and_learns() -> None:
    model, seen, losses = _train("bf16")
    assert set(seen) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert losses[-1] < 0.5 * losses[0]
    _, seen_fp32, _ = _train("fp32")
    assert set(seen_fp32) == {torch.float32}


def test_a_train_step_of_ones_own_is_left_to_its_own_arithmetic() -> None:
    def own_step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor], opt: torch.optim.Optimizer) -> torch.Tensor:
        x, y = batch
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    _, seen, _ = _train("bf16", train_step=own_step)
    assert set(seen) == {torch.float32}
