"""Sampled steps: which steps are looked at closely, and the hooks that look.

On a sampled step a forward pre-hook on the model catches what enters the net, forward hooks on a few layers
record activation statistics and dead or saturated units, and the gradients are measured once, just before the
optimizer steps (which parameters got one, each followed parameter's norm and spread) together with the size of
each followed parameter's update relative to its weight. The module hooks exist only during a sampled step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from nnrecipe.watching import probes
from nnrecipe.watching.inventory import Inventory
from nnrecipe.watching.record import WatchRecord

#: steps 0, 1, 3, 7, 15, 31, 63 and 127 are sampled (dense early, when things change fast) ...
DENSE_UNTIL = 128
#: ... then this many per doubling of the step count, at least `MIN_STRIDE` steps apart
PER_OCTAVE = 8
MIN_STRIDE = 256


def is_sampled(step: int) -> bool:
    """Steps 0, 1, 3, ..., 127 (step + 1 a power of two), then every 256 up to 4096, every 512 to 8192, ...:
    at most a fixed number per doubling, so the cost per step falls as the run grows."""
    if step < DENSE_UNTIL:
        return step >= 0 and (step + 1) & step == 0
    stride = max(MIN_STRIDE, (1 << (step.bit_length() - 1)) // PER_OCTAVE)
    return (step + 1) % stride == 0


def remove_all(handles: list[Any]) -> None:
    """Remove hooks, and forget their handles."""
    for handle in handles:
        handle.remove()
    handles.clear()


class Sampler:
    """Measures a sampled step into `record.samples` (and what enters the net into `record.inputs`). `judge_now`
    is called with "input-stats" the moment an input is non-finite or constant."""

    def __init__(self, record: WatchRecord, inventory: Inventory, judge_now: Callable[[str], None]) -> None:
        self.record = record
        self.inventory = inventory
        self._judge_now = judge_now
        #: the step being sampled, while one is: {"step", "activations", "gradients", "units"}
        self.sample: dict[str, Any] | None = None
        #: the first input batch seen, for the report's picture of what enters the net
        self.input_batch: dict[str, Any] | None = None
        self._handles: list[Any] = []
        self._step = 0  # the step the hooks are on
        self._input_seen = False
        self._gradients_sampled = False
        self._before: dict[str, torch.Tensor] = {}

    # -- the step's module hooks
    def arm(self, model: nn.Module | None, step: int) -> None:
        """Put the sampling hooks on when the coming step is a sampled one."""
        self._input_seen = False
        self._gradients_sampled = False
        if not is_sampled(step) or model is None:
            self.sample = None
            return
        self._step = step
        self.sample = {"step": step, "activations": {}, "gradients": {}, "units": {}}
        self._handles.append(model.register_forward_pre_hook(self._on_forward, with_kwargs=True))
        for label, module, stats, units in self.inventory.layers:
            self._handles.append(module.register_forward_hook(self._layer_hook(label, stats, units)))

    def close(self) -> None:
        """The sampled step is over: remove its hooks and keep what it measured."""
        remove_all(self._handles)
        sample, self.sample, self._before = self.sample, None, {}
        if sample is not None and (sample["activations"] or sample["gradients"] or sample["units"]):
            self.record.samples.append(sample)

    def stop(self) -> None:
        """Watching is over: remove the hooks; a step still being sampled is dropped."""
        remove_all(self._handles)
        self.sample = None

    def observe_input(self, x: Any) -> None:
        """What enters the net, seen by the caller (only used on a sampled step, once)."""
        if self.sample is None or self._input_seen:
            return
        tensor = probes.first_tensor(x)
        if tensor is not None:
            self._capture_input(tensor)

    def _on_forward(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if not module.training or self._input_seen:
            return
        x = probes.model_input(args, kwargs)
        if x is not None:
            self._capture_input(x)

    def _capture_input(self, x: torch.Tensor) -> None:
        step = self._step
        self._input_seen = True
        first = not self.record.inputs
        stats = probes.input_stats(x, per_feature=first)
        stats["step"] = step
        self.record.inputs.append(stats)
        if first:
            shown = {k: stats[k] for k in ("shape", "dtype", "mean", "std", "min", "max", "non_finite") if k in stats}
            self.input_batch = {"x": probes.kept_batch(x), "stats": shown, "kind": None, "vocab": None, "task": None,
                                "class_names": None, "y": None, "from": f"the watched loop, step {step}"}
        if stats["non_finite"] or stats.get("std") == 0:
            self._judge_now("input-stats")

    def _layer_hook(self, label: str, stats: bool, units: bool) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            sample = self.sample
            out = probes.first_tensor(output)
            if sample is None or not module.training or out is None or not out.is_floating_point():
                return
            if stats:
                sample["activations"][label] = probes.layer_stats(out)
            if units:
                found = probes.unit_stats(module, out)
                if found is not None:
                    sample["units"][label] = found

        return hook

    # -- the step's gradients and update
    def gradients(self, *, before_update: bool) -> None:
        """Measure the gradients, once per sampled step; `before_update`: the optimizer is about to step, so
        remember the followed weights to measure the update by."""
        if self.sample is None or self._gradients_sampled:
            return
        self._sample_gradients(self.sample)
        if before_update:
            self._before = {n: probes.flat_sample(p).clone() for n, p in self.inventory.followed.items()}

    def update_ratios(self) -> None:
        """The optimizer has stepped: each followed parameter's update relative to its weight."""
        if self.sample is None or not self._before:
            return
        with torch.no_grad():
            ratios = []
            for name, before in self._before.items():
                weight = probes.flat_sample(self.inventory.followed[name]).float()
                update = weight - before.float()
                ratios.append((torch.dot(update, update) / torch.dot(weight, weight).clamp_min(1e-24)).sqrt())
            for name, ratio in zip(self._before, torch.stack(ratios).tolist() if ratios else [], strict=True):
                self.sample["gradients"].setdefault(name, {})["update_ratio"] = ratio
        self._before = {}

    @torch.no_grad()
    def _sample_gradients(self, sample: dict[str, Any]) -> None:
        """Which parameters got a gradient, and the gradient norm and spread of the followed ones."""
        self._gradients_sampled = True
        with_grad = [(n, p) for n, p in self.inventory.trainable if p.grad is not None and not p.grad.is_sparse]
        norms = probes.norms([p.grad for _, p in with_grad if p.grad is not None])
        params = self.record.params
        params.gradient_samples += 1
        for (name, _), norm in zip(with_grad, norms, strict=True):
            if norm != 0:  # NaN counts: the parameter is connected, its gradient is broken (see loss-finite)
                params.got_gradient[name] = True
        by_name = dict(zip((n for n, _ in with_grad), norms, strict=True))
        followed = [(n, p.grad) for n, p in self.inventory.followed.items() if p.grad is not None and n in by_name]
        sums = torch.stack([g.sum().float() for _, g in followed]).tolist() if followed else []
        for name, p in self.inventory.followed.items():
            sample["gradients"][name] = {"ndim": p.dim()}
        for (name, grad), total in zip(followed, sums, strict=True):
            # the spread from the norm already read and one sum: sum of squares minus n x mean squared
            n, norm = grad.numel(), by_name[name]
            variance = max(norm * norm - total * total / n, 0.0) / max(n - 1, 1)
            sample["gradients"][name].update(grad_std=math.sqrt(variance) if n > 1 else abs(total), grad_norm=norm)
