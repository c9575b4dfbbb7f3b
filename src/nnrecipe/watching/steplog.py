"""The watched loop's scalars, step by step: losses, validation figures, the learning rate, the gradient norm.

A value on the CPU goes into its `Series` at once; a value on an accelerator is kept as a device tensor
(`DeviceScalars`) and read with the others in one transfer every `READ_EVERY` steps, so a step that is not
sampled adds no host-device sync.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from nnrecipe.errors import UsageError
from nnrecipe.watching import probes
from nnrecipe.watching.record import Series, WatchRecord

#: device scalars (losses, gradient norms) are read once per this many steps
READ_EVERY = 32
#: the total gradient norm is read on every this-many-th step (and on sampled steps): on a CPU it costs about as
#: much as the optimizer's own update, so reading it every step would cost ~1.5% of a small model's step
GRAD_NORM_EVERY = 8


class StepLog:
    """Puts the loop's scalars into the record; calls `judge_now("loss-finite")` as soon as a NaN or Inf is read."""

    def __init__(self, record: WatchRecord, judge_now: Callable[[str], None]) -> None:
        self.record = record
        self.kept = DeviceScalars()
        self._judge_now = judge_now

    def put(self, series: Series, value: Any, what: str, step: int) -> None:
        """Record a value: at once when it is on the CPU, else kept on its device until the next read."""
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise UsageError(f"nr.watch: expected {what} to be a scalar (a float or a one-element tensor), but "
                                 f"got a tensor of shape {tuple(value.shape)}")
            if value.device.type != "cpu":
                self.kept.keep(series, step, value)
                return
            number = value.item()
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise UsageError(f"nr.watch: expected {what} to be a float or a one-element tensor, but got "
                                 f"{type(value).__name__} {value!r}") from None
        if self.kept.holds(series):  # keep the series in step order behind its device values
            self.kept.keep(series, step, number)
            return
        series.add(step, number)
        if not math.isfinite(number):
            self._judge_now("loss-finite")

    def flush(self) -> None:
        """Read every kept device value now."""
        if not self.kept.read():
            self._judge_now("loss-finite")

    def lr(self, optimizer: torch.optim.Optimizer, step: int) -> None:
        """The learning rate the optimizer is about to use (its first parameter group's)."""
        lr = optimizer.param_groups[0]["lr"]
        if type(lr) is float and not self.kept.holds(self.record.lrs):
            self.record.lrs.add(step, lr)  # the common case, every step: a plain number (lr-schedule judges it)
        else:
            self.put(self.record.lrs, lr, "the learning rate", step)

    def grad_norm(self, params: Iterable[nn.Parameter], step: int) -> None:
        """The total norm of the (dense) gradients these parameters hold, when any does."""
        grads = [p.grad for p in params if p.grad is not None and not p.grad.is_sparse]
        if grads:
            self.put(self.record.grad_norms, probes.total_norm(grads), "the gradient norm", step)


class DeviceScalars:
    """Scalars kept on their device (losses, gradient norms) until they are read, all at once, in the order they
    came: one transfer per chunk of steps instead of a sync per step."""

    def __init__(self) -> None:
        self.kept: list[tuple[Series, int, torch.Tensor | float]] = []
        self.series: set[int] = set()

    def keep(self, series: Series, step: int, value: torch.Tensor | float) -> None:
        self.kept.append((series, step, value.detach() if isinstance(value, torch.Tensor) else value))
        self.series.add(id(series))

    def holds(self, series: Series) -> bool:
        return id(series) in self.series

    def read(self) -> bool:
        """Add every kept value to its series; False when one of them is NaN or Inf."""
        if not self.kept:
            return True
        kept, self.kept, self.series = self.kept, [], set()
        numbers = iter(_read_all([v for _, _, v in kept if isinstance(v, torch.Tensor)]))
        finite = True
        for series, step, value in kept:
            number = next(numbers) if isinstance(value, torch.Tensor) else value
            series.add(step, number)
            finite &= math.isfinite(number)
        return finite


def _read_all(tensors: list[torch.Tensor]) -> list[float]:
    """Device scalars as floats: one stacked transfer when they share a device and dtype."""
    if not tensors:
        return []
    if len({(t.device, t.dtype) for t in tensors}) == 1:
        return [float(v) for v in torch.stack([t.reshape(()) for t in tensors]).float().cpu().tolist()]
    return [float(t) for t in tensors]
