"""Watch a training loop you already have: `with nr.watch(model, optimizer, out=...) as w: ... w.log(loss)`.

See `nnrecipe.watching.watcher` for what is watched and when, and `nnrecipe.watching.checks` for the checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from nnrecipe.watching.watcher import Watcher

__all__ = ["Watcher", "watch"]


def watch(model: nn.Module, optimizer: Any = None, *, out: str | Path | None = None,
          planned_steps: int | None = None, name: str | None = None) -> Watcher:
    """A context manager that watches the training loop inside it.

    `model` is the module being trained and `optimizer` the torch optimizer stepping it (without it, the
    learning rate and the optimizer's view of the parameters are not seen). Call `w.log(loss)` once per step,
    with `val_loss=...` on the steps you evaluate. On exit, `out/result.json` (the result document, `"command":
    "watch"`) and `out/report.html` are written when `out` is given, and `w.result` holds the `RunResult`.
    `planned_steps` is the length of the run you plan, which the learning-rate schedule is judged against.
    An exception raised inside the block propagates; the files are still written with what was seen.
    """
    return Watcher(model, optimizer, out=out, planned_steps=planned_steps, name=name)
