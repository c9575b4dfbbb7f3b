"""gradient-health: inside the net on the sampled steps — dead and saturated units, and the size of each
update relative to the weights.

A ReLU unit that is never positive on a batch is dead: it passes no gradient and stops learning; when every
unit of a layer is dead, nothing below it learns at all. A tanh or sigmoid unit pinned to a bound passes
almost no gradient. The update-to-weight ratio |delta w| / |w| of a step is about 1e-3 in a healthy run
("you want this to be somewhere around 1e-3"); far below, the learning rate is too low to move the weights,
far above, it tears them apart. Units are read on the last `recent` sampled steps, ratios on all of them.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from nnrecipe.catalog import WATCH_CHECK_TITLES
from nnrecipe.watching.checks.base import Verdict, WatchCheck
from nnrecipe.watching.record import WatchRecord


@dataclass(frozen=True)
class GradientHealthThresholds:
    #: units are judged on this many of the last sampled steps (the median share over them)
    recent: int = 3
    #: warn when more than this share of a layer's units are dead, or saturated
    dead: float = 0.5
    saturated: float = 0.5
    #: fail when this share (all) of a layer's units are dead: no gradient passes the layer
    all_dead: float = 1.0
    #: layers with fewer units are not judged
    min_units: int = 4
    #: warn when the median update-to-weight ratio of the weight matrices is outside [low, high]
    update_low: float = 1e-5
    update_high: float = 0.2


def unit_shares(samples: list[dict[str, Any]], recent: int) -> dict[str, dict[str, Any]]:
    """Per activation layer: its kind, its units and the median share stuck over the last `recent` samples."""
    seen = [s for s in samples if s.get("units")][-recent:]
    layers: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(n for s in seen for n in s["units"]):
        rows = [s["units"][name] for s in seen if name in s["units"]]
        layers[name] = {"kind": rows[-1]["kind"], "units": rows[-1]["units"],
                        "share": statistics.median(r["share"] for r in rows), "since_step": seen[0]["step"]}
    return layers


def update_ratios(samples: list[dict[str, Any]]) -> dict[str, float]:
    """Per weight matrix (2-D or more), the median of its update-to-weight ratios over the sampled steps."""
    per_param: dict[str, list[float]] = {}
    for s in samples:
        for name, row in s.get("gradients", {}).items():
            if row.get("ndim", 1) >= 2 and math.isfinite(row.get("update_ratio", math.nan)):  # NaN: see loss-finite
                per_param.setdefault(name, []).append(row["update_ratio"])
    return {name: statistics.median(v) for name, v in per_param.items()}


@dataclass(frozen=True)
class GradientHealthEvidence:
    #: per activation layer (see `unit_shares`): its kind, its units, the median share stuck, since which step
    layers: dict[str, dict[str, Any]]
    #: per weight matrix, the median update-to-weight ratio (see `update_ratios`), and the median over them
    #: (None: no update seen)
    update_to_weight: dict[str, float]
    median_update_ratio: float | None
    #: the sampled steps
    samples: int


class GradientHealth(WatchCheck[GradientHealthEvidence, GradientHealthThresholds]):
    id = "gradient-health"
    title = WATCH_CHECK_TITLES[id]
    Thresholds = GradientHealthThresholds

    def applies(self, record: WatchRecord) -> str | None:
        if not any(s.get("units") or s.get("gradients") for s in record.samples):
            return "no sampled step showed activations or updates to look at"
        return None

    def measure(self, record: WatchRecord) -> GradientHealthEvidence:
        ratios = update_ratios(record.samples)
        return GradientHealthEvidence(layers=unit_shares(record.samples, self.thresholds.recent),
                                      update_to_weight=ratios,
                                      median_update_ratio=statistics.median(ratios.values()) if ratios else None,
                                      samples=len(record.samples))

    def judge(self, e: GradientHealthEvidence, t: GradientHealthThresholds) -> Verdict:
        judged = {n: a for n, a in e.layers.items() if a["units"] >= t.min_units}
        dead_layers = [n for n, a in judged.items() if a["kind"] == "dead" and a["share"] >= t.all_dead]
        if dead_layers:
            return _all_dead(dead_layers[0], judged[dead_layers[0]])
        problems, fixes = _problems(judged, e.median_update_ratio, t)
        if problems:
            return Verdict("warn", "; ".join(problems), " / ".join(dict.fromkeys(fixes)))
        ratio = e.median_update_ratio
        shown = f"median update-to-weight ratio {ratio:.2g}" if ratio is not None else "no update seen"
        layers = (f"{len(judged)} activation layer(s) without dead or saturated majorities" if judged else
                  "no ReLU, tanh or sigmoid module to read units from")
        return Verdict("pass", f"{layers}; {shown}")


def _all_dead(name: str, layer: dict[str, Any]) -> Verdict:
    """A fail: every unit after this layer is dead, so no gradient reaches below it."""
    return Verdict("fail", f"every one of the {layer['units']} units after {name} is dead (never "
                   f"positive on the sampled batches since step {layer['since_step']}): no gradient "
                   "reaches the layers below it",
                   "the units died (a large negative bias, an lr that pushed them there, unnormalized "
                   "inputs): re-initialize the layer before the activation (kaiming init, zero bias), lower "
                   "the learning rate, normalize the inputs, or use LeakyReLU / GELU")


def _problems(judged: dict[str, dict[str, Any]], ratio: float | None,
              t: GradientHealthThresholds) -> tuple[list[str], list[str]]:
    """What is worth a warning, and how to fix each: dead or saturated majorities, an update ratio far off."""
    problems, fixes = [], []
    for name, a in judged.items():
        if a["share"] > (t.dead if a["kind"] == "dead" else t.saturated):
            problems.append(f"{a['share']:.0%} of the {a['units']} units after {name} are {a['kind']}")
            fixes.append("dead or saturated units: lower the learning rate, normalize the inputs, use an init "
                         "scaled for the activation (kaiming for ReLU) or normalization layers")
    if ratio is not None and not t.update_low <= ratio <= t.update_high:
        problems.append(f"the median update-to-weight ratio is {ratio:.2g} (healthy is around 1e-3)")
        fixes.append("the learning rate is far off: " + ("raise it" if ratio < t.update_low else "lower it"))
    return problems, fixes
