"""The optimizer's side of a watched loop: the torch optimizer inside a wrapper, and the hooks on its step.

Before the optimizer steps (`register_step_pre_hook`): the learning rate it is about to use, every
`GRAD_NORM_EVERY` steps (and on sampled steps) the total gradient norm, and on a sampled step its gradients
and the followed weights; after it (`register_step_post_hook`), the size of the update relative to the weight.
A loop watched without an optimizer has its gradients read when the step is logged instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from nnrecipe.errors import UsageError
from nnrecipe.watching.inventory import Inventory
from nnrecipe.watching.sampling import Sampler, remove_all
from nnrecipe.watching.steplog import GRAD_NORM_EVERY, StepLog


def innermost_optimizer(optimizer: Any) -> torch.optim.Optimizer | None:
    """The torch optimizer inside a wrapper (Accelerate's AcceleratedOptimizer, Lightning's LightningOptimizer):
    its own step is the one whose hooks fire."""
    while optimizer is not None and isinstance(getattr(optimizer, "optimizer", None), torch.optim.Optimizer):
        optimizer = optimizer.optimizer
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise UsageError(f"nr.watch: expected a torch.optim.Optimizer (or None), but got a {type(optimizer).__name__}")
    return optimizer


class StepHooks:
    """What is read around the optimizer's step, at the step `step()` says the loop is on."""

    def __init__(self, scalars: StepLog, sampler: Sampler, inventory: Inventory, step: Callable[[], int]) -> None:
        self._scalars, self._sampler, self._inventory, self._step = scalars, sampler, inventory, step
        self._handles: list[Any] = []

    def install(self, optimizer: torch.optim.Optimizer) -> None:
        self._handles += [optimizer.register_step_pre_hook(self._before_optimizer_step),
                          optimizer.register_step_post_hook(self._after_optimizer_step)]

    def remove(self) -> None:
        remove_all(self._handles)

    def without_optimizer(self) -> None:
        """Without an optimizer to hook, the gradients are read when the step is logged."""
        step = self._step()
        if self._sampler.sample is not None or step % GRAD_NORM_EVERY == 0:
            self._scalars.grad_norm((p for _, p in self._inventory.trainable), step)
        self._sampler.gradients(before_update=False)

    def _before_optimizer_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        step = self._step()
        self._scalars.lr(optimizer, step)
        if self._sampler.sample is not None or step % GRAD_NORM_EVERY == 0:
            self._scalars.grad_norm((p for group in optimizer.param_groups for p in group["params"]), step)
        self._sampler.gradients(before_update=True)

    def _after_optimizer_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._sampler.update_ratios()
