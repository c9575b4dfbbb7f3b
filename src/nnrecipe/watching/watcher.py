"""`nr.watch`: the recipe's training-time checks on a loop the user already has, through hooks.

What is watched, and when:

- every step: the loss given to `log` (and `val_loss` on the steps the loop evaluates) and, from a hook on
  the optimizer (`register_step_pre_hook`), the learning rate it is about to use; every `GRAD_NORM_EVERY`
  steps, the total gradient norm just before the optimizer steps. Values on the CPU are read at once; values
  on an accelerator are kept as device tensors and read in chunks of `READ_EVERY` steps, so an unsampled step
  adds no host-device sync.
- sampled steps (0, 1, 3, 7, ..., 127, then every 256 steps, and `PER_OCTAVE` per doubling of the step count
  beyond 4096): a forward pre-hook on the model catches what enters the net, forward hooks on a few layers
  record activation statistics and dead or saturated units, and the optimizer hooks measure which parameters
  got a gradient, each followed parameter's gradient and the size of its update relative to its weight
  (`register_step_post_hook`). These module hooks exist only during a sampled step.

The online checks (`nnrecipe.watching.checks`) are judged when the values are read (sampled steps and every
`READ_EVERY` steps, within `JUDGE_BUDGET` of the loop's time), and a finding is logged (logger "nnrecipe.watch")
as soon as it is seen; a non-finite loss or gradient is judged the moment it is read. On exit the final
verdicts become the §3 result document and the report. Nothing here changes the training: no random number
is drawn, the model's mode and parameters are never touched, every hook is removed at the end.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from nnrecipe.errors import UsageError
from nnrecipe.report.capture_layers import FIRST_LAYER_UNITS, evenly, first_layer
from nnrecipe.results import CheckResult
from nnrecipe.watching import probes
from nnrecipe.watching.checks.base import WatchCheck, run_watch_check
from nnrecipe.watching.checks.registry import WATCH_CHECKS
from nnrecipe.watching.record import Series, WatchRecord

if TYPE_CHECKING:
    from nnrecipe.watching.result import WatchResult

logger = logging.getLogger("nnrecipe.watch")

#: device scalars (losses, gradient norms) are read once per this many steps
READ_EVERY = 32
#: the total gradient norm is read on every this-many-th step (and on sampled steps): on a CPU it costs about as
#: much as the optimizer's own update, so reading it every step would cost ~1.5% of a small model's step
GRAD_NORM_EVERY = 8
#: steps 0, 1, 3, 7, 15, 31, 63 and 127 are sampled (dense early, when things change fast) ...
DENSE_UNTIL = 128
#: ... then this many per doubling of the step count, at least `MIN_STRIDE` steps apart
PER_OCTAVE = 8
MIN_STRIDE = 256
#: layers and parameters followed for the report's per-layer statistics (evenly chosen through the model)
MAX_LAYERS = 24
#: activation modules looked at for dead and saturated units
MAX_UNIT_LAYERS = 48
#: judging every check during training may take at most this share of the loop's time: a judgement is skipped
#: while the last one cost more than this share of the time since (a NaN is still judged the moment it is read)
JUDGE_BUDGET = 0.002


def is_sampled(step: int) -> bool:
    """Steps 0, 1, 3, ..., 127 (step + 1 a power of two), then every 256 up to 4096, every 512 to 8192, ...:
    at most a fixed number per doubling, so the cost per step falls as the run grows."""
    if step < DENSE_UNTIL:
        return step >= 0 and (step + 1) & step == 0
    stride = max(MIN_STRIDE, (1 << (step.bit_length() - 1)) // PER_OCTAVE)
    return (step + 1) % stride == 0


def innermost_optimizer(optimizer: Any) -> torch.optim.Optimizer | None:
    """The torch optimizer inside a wrapper (Accelerate's AcceleratedOptimizer, Lightning's LightningOptimizer):
    its own step is the one whose hooks fire."""
    while optimizer is not None and isinstance(getattr(optimizer, "optimizer", None), torch.optim.Optimizer):
        optimizer = optimizer.optimizer
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise UsageError(f"nr.watch: expected a torch.optim.Optimizer (or None), but got a {type(optimizer).__name__}")
    return optimizer


class Watcher:
    """Watches one training loop. Use it through `nr.watch(...)` as a context manager and call `log` every step."""

    def __init__(self, model: nn.Module, optimizer: Any = None, *, out: str | Path | None = None,
                 planned_steps: int | None = None, name: str | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise UsageError(f"nr.watch: expected the model being trained (an nn.Module), but got a "
                             f"{type(model).__name__}")
        if planned_steps is not None and (not isinstance(planned_steps, int) or isinstance(planned_steps, bool)
                                          or planned_steps <= 0):
            raise UsageError(f"nr.watch: expected planned_steps to be a positive integer or None, but got "
                             f"{planned_steps!r}")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise UsageError(f"nr.watch: expected name to be a non-empty string or None, but got {name!r}")
        self.model: nn.Module | None = model
        self.optimizer = innermost_optimizer(optimizer)
        self.out = Path(out) if out is not None else None
        self.record = WatchRecord(name=name or type(model).__name__, has_optimizer=self.optimizer is not None,
                                  planned_steps=planned_steps)
        self.step = 0
        self._state = "new"
        self._checks: list[WatchCheck] = [cls() for cls in WATCH_CHECKS.values()]
        self._logged: dict[str, str] = {}
        self._kept = DeviceScalars()
        self._handles: list[Any] = []
        self._sample_handles: list[Any] = []
        self._sample: dict[str, Any] | None = None
        self._gradients_sampled = False
        self._input_seen = False
        self._before: dict[str, torch.Tensor] = {}
        self._trainable: list[tuple[str, nn.Parameter]] = []
        self._followed: dict[str, nn.Parameter] = {}
        self._layers: list[tuple[str, nn.Module, bool, bool]] = []
        self._input_batch: dict[str, Any] | None = None
        self._first_layer: dict[str, Any] | None = None
        self._started = 0.0
        self._judged_at, self._judge_seconds = 0.0, 0.0
        self._result: WatchResult | None = None

    # -- the user's side
    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        try:
            self.finish(exc)
        except Exception:
            if exc is None:
                raise
            # The loop's own exception is what the user needs to see: never replace it with ours.
            logger.exception("nr.watch could not write its results after the loop raised")
        return False  # an exception in the loop is never swallowed

    def log(self, loss: torch.Tensor | float | None, *, val_loss: torch.Tensor | float | None = None,
            **scalars: torch.Tensor | float) -> None:
        """End one training step with its loss (a tensor or a float), and `val_loss=` on the steps the loop
        evaluates. `w.log(None, val_loss=...)` adds validation figures to the step just taken without ending
        another (an evaluation at the end of an epoch). Other figures go by name (`accuracy=...`); names
        starting with `val_` are validation figures and join the report's validation curves."""
        if val_loss is not None or scalars:
            self._require_running("log")
            at = self.step if loss is not None else max(self.step - 1, 0)
            if val_loss is not None:
                self._put(self.record.val_losses, val_loss, "val_loss", step=at)
            for key, value in scalars.items():
                self._put(self.record.scalar(key), value, key, step=at)
        if loss is not None:
            self.end_step(loss)
        else:
            self._require_running("log")

    @property
    def result(self) -> WatchResult:
        """The `RunResult` of the watched loop (ready when the `with` block ends)."""
        if self._result is None:
            raise UsageError("nr.watch: the result is ready when the `with nr.watch(...)` block ends")
        return self._result

    # -- the integrations' side (Lightning, Hugging Face) and the steps of a loop
    def start(self) -> None:
        if self._state != "new":
            raise UsageError("nr.watch: a watcher watches one loop; make a new one with nr.watch(...)")
        assert self.model is not None
        if self.out is not None:  # a folder that cannot take the files is said now, not after the training
            from nnrecipe.engine.run_folder import check_destinations

            check_destinations(out_dir=self.out, json_path=None)
        self._state = "running"
        self._started = time.perf_counter()
        self._take_inventory(self.model)
        if self.optimizer is not None:
            self._handles += [self.optimizer.register_step_pre_hook(self._before_optimizer_step),
                              self.optimizer.register_step_post_hook(self._after_optimizer_step)]
        self._arm()
        logger.info("watching %s (%d trainable parameter tensors)%s", self.record.name, len(self._trainable),
                    f"; results go to {self.out}" if self.out is not None else "")

    def end_step(self, loss: torch.Tensor | float | None) -> None:
        """One training step is over (its loss, if there is one)."""
        self._require_running("log")
        if loss is not None:
            self._put(self.record.losses, loss, "loss")
        sampled = self._sample is not None
        if self.optimizer is None:
            self._gradients_without_optimizer()
        if sampled:
            self._close_sample()
        self.step += 1
        self.record.steps = self.step
        if sampled or self.step % READ_EVERY == 0:
            self._flush()
            self._judge_online()
        self._arm()

    def add_loss(self, loss: torch.Tensor | float, *, step: int) -> None:
        """A training loss for a step already over (a trainer that logs a mean loss every few steps)."""
        self._require_running("add_loss")
        self._put(self.record.losses, loss, "loss", step=step)

    def add_val(self, val_loss: torch.Tensor | float, *, step: int | None = None,
                **scalars: torch.Tensor | float) -> None:
        """A validation loss measured after `step` (default: the last step taken)."""
        self._require_running("add_val")
        at = max(self.step - 1, 0) if step is None else step
        self._put(self.record.val_losses, val_loss, "val_loss", step=at)
        for key, value in scalars.items():
            self._put(self.record.scalar(key), value, key, step=at)

    def observe_input(self, x: Any) -> None:
        """What enters the net on this step, for a trainer whose step does not call the watched module itself
        (only used on a sampled step, and only when the forward pre-hook has not already seen it)."""
        if self._sample is None or self._input_seen:
            return
        tensor = probes.first_tensor(x)
        if tensor is not None:
            self._capture_input(tensor)

    def finish(self, exc: BaseException | None = None) -> WatchResult:
        """Remove every hook, judge everything seen, write the files. Idempotent."""
        if self._result is not None:
            return self._result
        if self._state == "new":
            raise UsageError("nr.watch: the watcher never started; use it as `with nr.watch(...) as w:`")
        from nnrecipe.watching.result import build_result, write_result

        self._state = "done"
        self._remove(self._sample_handles)
        self._remove(self._handles)
        self._sample = None
        self._flush()
        self.record.finished = True
        self.record.seconds = time.perf_counter() - self._started
        if exc is not None:
            self.record.interrupted = f"{type(exc).__name__}: {exc}"
        checks = tuple(run_watch_check(check, self.record) for check in self._checks)
        for result in checks:
            self._log_finding(result)
        if self._first_layer is not None and self.model is not None:
            layer = first_layer(self.model)
            if layer is not None:
                self._first_layer["final"] = first_weights(layer)
        # keep nothing of the user's model alive through the watcher or the result
        self.model, self.optimizer, self._trainable, self._followed, self._layers = None, None, [], {}, []
        self._result = build_result(self.record, checks, input_batch=self._input_batch, first_layer=self._first_layer)
        if self.out is not None:
            report = write_result(self._result, self.out)
            logger.info("nr.watch: %s; report at %s", _counts(checks), report)
        else:
            logger.info("nr.watch: %s", _counts(checks))
        return self._result

    # -- bookkeeping
    def _require_running(self, what: str) -> None:
        if self._state != "running":
            raise UsageError(f"nr.watch: {what}() is called inside the `with nr.watch(model, optimizer) as w:` block, "
                             f"but this watcher is {'not started' if self._state == 'new' else 'finished'}")

    def _take_inventory(self, model: nn.Module) -> None:
        named = list(model.named_parameters())
        self._trainable = [(n, p) for n, p in named if p.requires_grad]
        params = self.record.params
        params.trainable = [n for n, _ in self._trainable]
        params.frozen = [n for n, p in named if not p.requires_grad]
        if self.optimizer is not None:
            held = {id(p) for group in self.optimizer.param_groups for p in group["params"]}
            params.not_in_optimizer = [n for n, p in self._trainable if id(p) not in held]
        self._followed = dict(evenly(self._trainable, MAX_LAYERS))
        # layers whose outputs the report draws (evenly through the model), and activations to read units from
        leaves = [m for n, m in model.named_modules() if n and not list(m.children()) and not isinstance(m, probes.LAYOUT)]
        drawn = {id(m) for m in evenly(leaves, MAX_LAYERS)}
        units = {id(m) for m in [m for m in model.modules() if probes.unit_kind(m)][:MAX_UNIT_LAYERS]}
        self._layers = [(f"{n} ({type(m).__name__})", m, id(m) in drawn, id(m) in units)
                        for n, m in model.named_modules() if id(m) in drawn | units]
        layer = first_layer(model)
        if layer is not None:
            self._first_layer = {"type": type(layer).__name__, "init": first_weights(layer)}

    def _put(self, series: Series, value: Any, what: str, *, step: int | None = None) -> None:
        """Record a value: at once when it is on the CPU, else kept on its device until the next read."""
        at = self.step if step is None else step
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise UsageError(f"nr.watch: expected {what} to be a scalar (a float or a one-element tensor), but "
                                 f"got a tensor of shape {tuple(value.shape)}")
            if value.device.type != "cpu":
                self._kept.keep(series, at, value)
                return
            number = value.item()
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise UsageError(f"nr.watch: expected {what} to be a float or a one-element tensor, but got "
                                 f"{type(value).__name__} {value!r}") from None
        if self._kept.holds(series):  # keep the series in step order behind its device values
            self._kept.keep(series, at, number)
            return
        series.add(at, number)
        if not math.isfinite(number):
            self._judge_now("loss-finite")

    def _flush(self) -> None:
        if not self._kept.read():
            self._judge_now("loss-finite")

    # -- sampled steps
    def _arm(self) -> None:
        """Put the sampling hooks on when the coming step is a sampled one."""
        self._input_seen = False
        self._gradients_sampled = False
        if not is_sampled(self.step) or self.model is None:
            self._sample = None
            return
        self._sample = {"step": self.step, "activations": {}, "gradients": {}, "units": {}}
        self._sample_handles.append(self.model.register_forward_pre_hook(self._on_forward, with_kwargs=True))
        for label, module, stats, units in self._layers:
            self._sample_handles.append(module.register_forward_hook(self._layer_hook(label, stats, units)))

    def _close_sample(self) -> None:
        self._remove(self._sample_handles)
        sample, self._sample, self._before = self._sample, None, {}
        if sample is not None and (sample["activations"] or sample["gradients"] or sample["units"]):
            self.record.samples.append(sample)

    def _on_forward(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if not module.training or self._input_seen:
            return
        x = probes.model_input(args, kwargs)
        if x is not None:
            self._capture_input(x)

    def _capture_input(self, x: torch.Tensor) -> None:
        self._input_seen = True
        first = not self.record.inputs
        stats = probes.input_stats(x, per_feature=first)
        stats["step"] = self.step
        self.record.inputs.append(stats)
        if first:
            shown = {k: stats[k] for k in ("shape", "dtype", "mean", "std", "min", "max", "non_finite") if k in stats}
            self._input_batch = {"x": probes.kept_batch(x), "stats": shown, "kind": None, "vocab": None, "task": None,
                                 "class_names": None, "y": None, "from": f"the watched loop, step {self.step}"}
        if stats["non_finite"] or stats.get("std") == 0:
            self._judge_now("input-stats")

    def _layer_hook(self, label: str, stats: bool, units: bool) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            sample = self._sample
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

    # -- the optimizer's step
    def _before_optimizer_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        lr = optimizer.param_groups[0]["lr"]
        if type(lr) is float and not self._kept.holds(self.record.lrs):
            self.record.lrs.add(self.step, lr)  # the common case, every step: a plain number (lr-schedule judges it)
        else:
            self._put(self.record.lrs, lr, "the learning rate")
        if self._sample is not None or self.step % GRAD_NORM_EVERY == 0:
            grads = [p.grad for group in optimizer.param_groups for p in group["params"]
                     if p.grad is not None and not p.grad.is_sparse]
            if grads:
                self._put(self.record.grad_norms, probes.total_norm(grads), "the gradient norm")
        if self._sample is not None and not self._gradients_sampled:
            self._sample_gradients(self._sample)
            self._before = {n: probes.flat_sample(p).clone() for n, p in self._followed.items()}

    def _after_optimizer_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self._sample is None or not self._before:
            return
        with torch.no_grad():
            ratios = []
            for name, before in self._before.items():
                weight = probes.flat_sample(self._followed[name]).float()
                update = weight - before.float()
                ratios.append((torch.dot(update, update) / torch.dot(weight, weight).clamp_min(1e-24)).sqrt())
            for name, ratio in zip(self._before, torch.stack(ratios).tolist() if ratios else [], strict=True):
                self._sample["gradients"].setdefault(name, {})["update_ratio"] = ratio
        self._before = {}

    def _gradients_without_optimizer(self) -> None:
        """Without an optimizer to hook, the gradients are read when the step is logged."""
        if self._sample is not None or self.step % GRAD_NORM_EVERY == 0:
            grads = [p.grad for _, p in self._trainable if p.grad is not None and not p.grad.is_sparse]
            if grads:
                self._put(self.record.grad_norms, probes.total_norm(grads), "the gradient norm")
        if self._sample is not None and not self._gradients_sampled:
            self._sample_gradients(self._sample)

    @torch.no_grad()
    def _sample_gradients(self, sample: dict[str, Any]) -> None:
        """Which parameters got a gradient, and the gradient norm and spread of the followed ones."""
        self._gradients_sampled = True
        with_grad = [(n, p) for n, p in self._trainable if p.grad is not None and not p.grad.is_sparse]
        norms = probes.norms([p.grad for _, p in with_grad if p.grad is not None])
        params = self.record.params
        params.gradient_samples += 1
        for (name, _), norm in zip(with_grad, norms, strict=True):
            if norm != 0:  # NaN counts: the parameter is connected, its gradient is broken (see loss-finite)
                params.got_gradient[name] = True
        by_name = dict(zip((n for n, _ in with_grad), norms, strict=True))
        followed = [(n, p.grad) for n, p in self._followed.items() if p.grad is not None and n in by_name]
        sums = torch.stack([g.sum().float() for _, g in followed]).tolist() if followed else []
        for name, p in self._followed.items():
            sample["gradients"][name] = {"ndim": p.dim()}
        for (name, grad), total in zip(followed, sums, strict=True):
            # the spread from the norm already read and one sum: sum of squares minus n x mean squared
            n, norm = grad.numel(), by_name[name]
            variance = max(norm * norm - total * total / n, 0.0) / max(n - 1, 1)
            sample["gradients"][name].update(grad_std=math.sqrt(variance) if n > 1 else abs(total), grad_norm=norm)

    # -- findings
    def _judge_now(self, check_id: str) -> None:
        check = next(c for c in self._checks if c.id == check_id)
        self._log_finding(run_watch_check(check, self.record))

    def _judge_online(self) -> None:
        started = time.perf_counter()
        if (started - self._judged_at) * JUDGE_BUDGET < self._judge_seconds:
            return
        for check in self._checks:
            if self.step >= check.online_after:
                self._log_finding(run_watch_check(check, self.record))
        self._judged_at = time.perf_counter()
        self._judge_seconds = self._judged_at - started

    def _log_finding(self, result: CheckResult) -> None:
        """Log a warn or fail the first time a check reaches it (once per check and status)."""
        if result.status not in ("warn", "fail", "error") or self._logged.get(result.id) == result.status:
            return
        self._logged[result.id] = result.status
        level = logging.WARNING if result.status == "warn" else logging.ERROR
        fix = f" Fix: {result.fix}" if result.fix else ""
        logger.log(level, "%s %s at step %d: %s.%s", result.id, result.status, self.step, result.summary, fix,
                   extra={"nnrecipe_check": result.id, "nnrecipe_status": result.status, "nnrecipe_step": self.step})

    @staticmethod
    def _remove(handles: list[Any]) -> None:
        for handle in handles:
            handle.remove()
        handles.clear()


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


def first_weights(layer: nn.Module) -> Any:
    """The first layer's weights (its first units), for the report's before/after picture."""
    weight = layer.weight
    assert isinstance(weight, torch.Tensor)  # every first-layer type has a weight tensor
    return weight.detach()[:FIRST_LAYER_UNITS].float().cpu().numpy().copy()


def _counts(checks: tuple[CheckResult, ...]) -> str:
    counts = {s: sum(c.status == s for c in checks) for s in ("fail", "warn", "error", "pass", "skip")}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)
