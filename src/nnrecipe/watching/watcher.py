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

The `Watcher` here is the public side and runs the steps; the work is in `steplog` (the scalars), `sampling`
and `inventory` (sampled steps, and what they follow), `findings` (judging, logging) and `result` (the files).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import nn

from nnrecipe.errors import UsageError
from nnrecipe.results import CheckResult, Pictures
from nnrecipe.watching.findings import JUDGE_BUDGET, Judge, counts
from nnrecipe.watching.inventory import MAX_LAYERS, MAX_UNIT_LAYERS, Inventory, first_weights
from nnrecipe.watching.optimizer_hooks import StepHooks, innermost_optimizer
from nnrecipe.watching.record import Series, WatchRecord
from nnrecipe.watching.sampling import DENSE_UNTIL, MIN_STRIDE, PER_OCTAVE, Sampler, is_sampled
from nnrecipe.watching.steplog import GRAD_NORM_EVERY, READ_EVERY, DeviceScalars, StepLog

if TYPE_CHECKING:
    from nnrecipe.watching.result import WatchResult

# the schedule and the pieces the watcher is made of, importable from here as before the split
__all__ = ["DENSE_UNTIL", "GRAD_NORM_EVERY", "JUDGE_BUDGET", "MAX_LAYERS", "MAX_UNIT_LAYERS", "MIN_STRIDE",
           "PER_OCTAVE", "READ_EVERY", "DeviceScalars", "Watcher", "first_weights", "innermost_optimizer",
           "is_sampled"]

logger = logging.getLogger("nnrecipe.watch")


def _check_arguments(model: Any, planned_steps: Any, name: Any) -> None:
    if not isinstance(model, nn.Module):
        raise UsageError(f"nr.watch: expected the model being trained (an nn.Module), but got a "
                         f"{type(model).__name__}")
    if planned_steps is not None and (not isinstance(planned_steps, int) or isinstance(planned_steps, bool)
                                      or planned_steps <= 0):
        raise UsageError(f"nr.watch: expected planned_steps to be a positive integer or None, but got "
                         f"{planned_steps!r}")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise UsageError(f"nr.watch: expected name to be a non-empty string or None, but got {name!r}")


class Watcher:
    """Watches one training loop. Use it through `nr.watch(...)` as a context manager and call `log` every step."""

    def __init__(self, model: nn.Module, optimizer: Any = None, *, out: str | Path | None = None,
                 planned_steps: int | None = None, name: str | None = None) -> None:
        _check_arguments(model, planned_steps, name)
        self.model: nn.Module | None = model
        self.optimizer = innermost_optimizer(optimizer)
        self.out = Path(out) if out is not None else None
        self.record = WatchRecord(name=name or type(model).__name__, has_optimizer=self.optimizer is not None,
                                  planned_steps=planned_steps)
        self.step = 0
        self._state = "new"
        self._judge = Judge(self.record)
        self._scalars = StepLog(self.record, self._judge_now)
        self._inventory = Inventory()
        self._sampler = Sampler(self.record, self._inventory, self._judge_now)
        self._hooks = StepHooks(self._scalars, self._sampler, self._inventory, lambda: self.step)
        self._started = 0.0
        self._result: WatchResult | None = None
        self._pictures = Pictures()  # what the report draws beside the result

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
        self._inventory.take(self.model, self.optimizer, self.record.params)
        if self.optimizer is not None:
            self._hooks.install(self.optimizer)
        self._sampler.arm(self.model, self.step)
        logger.info("watching %s (%d trainable parameter tensors)%s", self.record.name,
                    len(self._inventory.trainable), f"; results go to {self.out}" if self.out is not None else "")

    def end_step(self, loss: torch.Tensor | float | None) -> None:
        """One training step is over (its loss, if there is one)."""
        self._require_running("log")
        if loss is not None:
            self._put(self.record.losses, loss, "loss")
        sampled = self._sampler.sample is not None
        if self.optimizer is None:
            self._hooks.without_optimizer()
        if sampled:
            self._sampler.close()
        self.step += 1
        self.record.steps = self.step
        if sampled or self.step % READ_EVERY == 0:
            self._scalars.flush()
            self._judge.online(self.step)
        self._sampler.arm(self.model, self.step)

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
        self._sampler.observe_input(x)

    def finish(self, exc: BaseException | None = None) -> WatchResult:
        """Remove every hook, judge everything seen, write the files. Idempotent."""
        if self._result is not None:
            return self._result
        if self._state == "new":
            raise UsageError("nr.watch: the watcher never started; use it as `with nr.watch(...) as w:`")
        from nnrecipe.watching.result import build_pictures, build_result

        self._state = "done"
        self._sampler.stop()
        self._hooks.remove()
        self._scalars.flush()
        self._close_record(exc)
        checks, check_pictures = self._judge.final(self.step)
        if self.model is not None:
            self._inventory.final_weights(self.model)
        # keep nothing of the user's model alive through the watcher or the result
        self.model, self.optimizer = None, None
        self._inventory.forget()
        self._result = build_result(self.record, checks)
        self._pictures = build_pictures(self.record, check_pictures, input_batch=self._sampler.input_batch,
                                        first_layer=self._inventory.first_layer)
        self._write(self._result, checks)
        return self._result

    # -- bookkeeping
    def _require_running(self, what: str) -> None:
        if self._state != "running":
            raise UsageError(f"nr.watch: {what}() is called inside the `with nr.watch(model, optimizer) as w:` block, "
                             f"but this watcher is {'not started' if self._state == 'new' else 'finished'}")

    def _put(self, series: Series, value: Any, what: str, *, step: int | None = None) -> None:
        self._scalars.put(series, value, what, self.step if step is None else step)

    def _judge_now(self, check_id: str) -> None:
        self._judge.now(check_id, self.step)

    def _close_record(self, exc: BaseException | None) -> None:
        self.record.finished = True
        self.record.seconds = time.perf_counter() - self._started
        if exc is not None:
            self.record.interrupted = f"{type(exc).__name__}: {exc}"

    def _write(self, result: WatchResult, checks: tuple[CheckResult, ...]) -> None:
        """The files, when `out` was given, and the closing log line."""
        if self.out is not None:
            from nnrecipe.watching.result import write_result

            report = write_result(result, self._pictures, self.out)
            logger.info("nr.watch: %s; report at %s", counts(checks), report)
        else:
            logger.info("nr.watch: %s", counts(checks))
