"""Training observers: recorders that ride along the run's final training (`fit` callbacks) and keep what the
report draws. `inputs` catches the input batch, `dynamics` the predictions on a fixed batch after every epoch,
`layers` the activation, gradient and update statistics per layer. They only watch the engine, so they live in
it; the report reads what they recorded.

Each recorder looks at the real training loop, never at a re-enactment of it: the input batch comes from a
forward pre-hook on the model, the predictions from the model being trained, the layer statistics from
hooks on sampled steps. Every hook is removed when training ends, and nothing a recorder does changes the
training (no random numbers are drawn, the model's mode is put back as found).

`training_recorders(exp)` gives the standard set; after `fit`, `collect(recorders)` gives the artifacts
(keyed by each recorder's `key`) that become `RunResult.artifacts` and the report's pictures.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nnrecipe.engine.loop import Callback
from nnrecipe.experiment import Experiment


class Recorder(Callback):
    """A training callback that ends with one artifact for the report (or None when it saw nothing)."""

    key: str = ""

    def record(self) -> Any:
        raise NotImplementedError


def training_recorders(exp: Experiment) -> list[Recorder]:
    """The recorders the final training runs with: input batch, prediction dynamics, layer statistics."""
    # imported here: each of these modules imports `Recorder` from this package
    from nnrecipe.engine.observe.dynamics import PredictionDynamics
    from nnrecipe.engine.observe.inputs import InputCapture
    from nnrecipe.engine.observe.layers import LayerStats

    return [InputCapture(exp), PredictionDynamics(exp), LayerStats()]


def collect(recorders: Iterable[Recorder]) -> dict[str, Any]:
    """The recorders' artifacts by key, leaving out those that recorded nothing."""
    found = {r.key: r.record() for r in recorders}
    return {k: v for k, v in found.items() if v is not None}
