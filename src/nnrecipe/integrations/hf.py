"""Hugging Face Transformers: the watcher inside `Trainer.train`.

`RecipeCallback(out=...)` is a `transformers.TrainerCallback`. It watches the Trainer's model (its forward
pre-hook sees the dict batch's `input_ids` or `pixel_values`), the torch optimizer inside the Trainer's
(Accelerate's wrapper is looked through), so the learning rate its scheduler sets and the gradient norms
come from the real steps; the training loss is the one the Trainer logs every `logging_steps`, the
validation loss its `eval_loss`, and `max_steps` the planned steps. Only the main process watches and writes.

A `TrainerCallback` is not told when `train()` raises; to have the files written with what was seen then too,
use the callback as a context manager around `train()` (`with RecipeCallback(out=...) as cb: ...`).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from nnrecipe.integrations import missing_extra
from nnrecipe.watching.result import WatchResult
from nnrecipe.watching.watcher import Watcher

try:
    import transformers
except ImportError as exc:  # pragma: no cover - the test extra installs it
    raise missing_extra("transformers", "hf") from exc


class RecipeCallback(transformers.TrainerCallback):
    """Watch `Trainer.train` with nnrecipe's online checks; write `out/result.json` and `out/report.html`
    when training ends. `result` holds the `RunResult` afterwards."""

    def __init__(self, out: str | Path | None = None, planned_steps: int | None = None, *,
                 name: str | None = None) -> None:
        self.out, self.planned_steps, self.name = out, planned_steps, name
        self.watcher: Watcher | None = None
        self.result: WatchResult | None = None

    def __enter__(self) -> RecipeCallback:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        self.finish(exc)
        return False  # the training's exception is never swallowed

    def finish(self, exc: BaseException | None = None) -> WatchResult | None:
        """Judge what was seen and write the files (done by `on_train_end`; idempotent)."""
        if self.watcher is not None and self.result is None:
            self.result = self.watcher.finish(exc)
            self.watcher = None
        return self.result

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                       **kwargs: Any) -> None:
        if not state.is_world_process_zero or model is None:
            return
        planned = self.planned_steps or (state.max_steps if state.max_steps and state.max_steps > 0 else None)
        self.result = None  # a callback used for a second train() watches that one
        self.watcher = Watcher(model, optimizer, out=self.out, planned_steps=planned,
                               name=self.name or type(model).__name__)
        self.watcher.start()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.watcher is not None:
            self.watcher.end_step(None)  # the loss comes with the Trainer's logs

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if self.watcher is None or not logs or "loss" not in logs:
            return
        # a mean over the steps since the last log, logged once the step numbered global_step is done
        self.watcher.add_loss(logs["loss"], step=max(state.global_step - 1, 0))

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, Any] | None = None,
                    **kwargs: Any) -> None:
        if self.watcher is not None and metrics and "eval_loss" in metrics:
            self.watcher.add_val(metrics["eval_loss"], step=max(state.global_step - 1, 0))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.finish()
