"""A watched loop's outcome as the §3 result document (`"command": "watch"`) and the same report page as `run`:
what entered the net, the loss and lr curves, the per-layer statistics and the checks. The result holds the
document's data; what the pictures draw is in the `Pictures` built beside it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnrecipe.engine.loop import EpochRecord
from nnrecipe.results import CheckResult, Pictures, RunResult, jsonable
from nnrecipe.watching.record import WatchRecord

#: sampled steps drawn in the report's per-layer statistics (evenly chosen)
MAX_RECORDS = 14


@dataclass(frozen=True)
class WatchResult(RunResult):
    """A `RunResult` whose document says `"command": "watch"` and carries what was watched."""

    command: str = "watch"
    #: steps watched, planned steps, seconds, and the loop's exception when it raised
    watch: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["command"] = self.command
        out["watch"] = jsonable(self.watch)
        return out


@dataclass(frozen=True)
class WatchHistory:
    """The loop's curves in the shape the report's "loss curves and learning rate" picture reads, with the step
    of every value (a loop logs its validation loss, and a trainer its training loss, on some steps only)."""

    step_losses: list[float]
    loss_steps: list[int]
    step_lrs: list[float]
    lr_steps: list[int]
    epochs: list[EpochRecord]
    val_steps: list[int]


def history(record: WatchRecord) -> WatchHistory:
    val_metrics = {name[len("val_"):]: series for name, series in record.scalars.items() if name.startswith("val_")}
    epochs, val_steps = [], []
    for i, (step, loss) in enumerate(zip(record.val_losses.steps, record.val_losses.values, strict=True)):
        val = {"loss": loss}
        for metric, series in val_metrics.items():
            if step in series.steps:
                val[metric] = series.values[series.steps.index(step)]
        epochs.append(EpochRecord(epoch=i, train_loss=float("nan"), lr=float("nan"), seconds=0.0, val=val))
        val_steps.append(step)
    return WatchHistory(step_losses=list(record.losses.values), loss_steps=list(record.losses.steps),
                        step_lrs=list(record.lrs.values), lr_steps=list(record.lrs.steps), epochs=epochs,
                        val_steps=val_steps)


def _layer_stats(record: WatchRecord, first_layer: dict[str, Any] | None) -> dict[str, Any] | None:
    from nnrecipe.engine.observe.layers import evenly

    if not record.samples and first_layer is None:
        return None
    return {"records": evenly(record.samples, MAX_RECORDS), "activation_values": {}, "parameter_values": {},
            "first_layer": first_layer}


def build_pictures(record: WatchRecord, check_pictures: Mapping[str, Mapping[str, Any]], *,
                   input_batch: dict[str, Any] | None, first_layer: dict[str, Any] | None) -> Pictures:
    """What the watched loop's report draws: the checks' material, the curves, the input batch, the layers."""
    run: dict[str, Any] = {"final_history": history(record)}
    if input_batch is not None:
        run["input_batch"] = input_batch
    layers = _layer_stats(record, first_layer)
    if layers is not None:
        run["layer_stats"] = layers
    return Pictures(checks=check_pictures, run=run)


def build_result(record: WatchRecord, checks: tuple[CheckResult, ...]) -> WatchResult:
    watched: dict[str, Any] = {"steps": record.steps, "planned_steps": record.planned_steps, "seconds": round(record.seconds, 3),
               "losses": len(record.losses), "val_losses": len(record.val_losses),
               "sampled_steps": [s["step"] for s in record.samples], "interrupted": record.interrupted}
    last = {name: series.values[-1] for name, series in record.scalars.items() if series.values}
    if last:
        watched["last_scalars"] = last
    return WatchResult(experiment=record.name, checks=checks, watch=watched)


def write_result(result: WatchResult, pictures: Pictures, out: Path) -> str:
    """`out/result.json` and `out/report.html` (drawn with the pictures), each written atomically; the report's
    path."""
    from nnrecipe.report.writer import write_outputs

    report = write_outputs(result, pictures, json_path=None, out_dir=str(out))
    assert report is not None  # an out_dir always gets a report
    return report
