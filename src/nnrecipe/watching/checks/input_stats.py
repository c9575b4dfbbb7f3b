"""input-stats: what enters the net, caught by a forward pre-hook on the model on sampled steps.

"The unambiguously correct place to visualize your data is immediately before your y_hat = model(x)": after
every transform, augmentation and collation. NaN or Inf values there, or a batch that is one constant value
(a broken transform, an all-zero tensor), break training; inputs far from normalized (pixels in 0..255,
unscaled table columns) slow or stall it. Token ids are integers and are not judged for scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.watching.checks.base import Verdict, WatchCheck, window_median
from nnrecipe.watching.record import WatchRecord


@dataclass(frozen=True)
class InputStatsThresholds:
    #: normalized: the batch mean within +-mean_tolerance ...
    mean_tolerance: float = 3.0
    #: ... and its std within [std_low, std_high]
    std_low: float = 0.05
    std_high: float = 20.0


class InputStats(WatchCheck):
    id = "input-stats"
    title = "What enters the net"
    Thresholds = InputStatsThresholds

    def applies(self, record: WatchRecord) -> str | None:
        if not record.inputs:
            return "no input tensor reached the model's forward on a sampled step"
        return None

    def measure(self, record: WatchRecord) -> dict[str, Any]:
        batches = record.inputs
        floats = [b for b in batches if not b["integer"] and "mean" in b]
        first = batches[0]
        measured: dict[str, Any] = {
            "batches": len(batches), "shape": first["shape"], "dtype": first["dtype"], "integer": first["integer"],
            "non_finite": next(({"step": b["step"], "count": b["non_finite"], "of": b["values"]}
                                for b in batches if b["non_finite"]), None),
            "constant": next(({"step": b["step"], "value": b["mean"]} for b in floats
                              if b["std"] == 0 and b["values"] > 1), None),
            "min": min((b["min"] for b in batches if "min" in b), default=None),
            "max": max((b["max"] for b in batches if "max" in b), default=None),
        }
        if floats:
            measured.update(mean=window_median([b["mean"] for b in floats]),
                            std=window_median([b["std"] for b in floats]))
        art = next((b for b in batches if "feature_mean" in b), None)
        if art is not None:
            measured["_artifacts"] = {"mean": np.asarray(art["feature_mean"]), "std": np.asarray(art["feature_std"]),
                                      "per_channel": len(art["shape"]) == 4}
            measured["constant_features"] = art["constant_features"]
        return measured

    def judge(self, m: Mapping[str, Any], t: InputStatsThresholds) -> Verdict:
        shape = "x".join(str(d) for d in m["shape"])
        bad = m["non_finite"]
        if bad is not None:
            return Verdict("fail", f"the input batch of step {bad['step']} holds {bad['count']} NaN/Inf values "
                           f"({bad['count'] / max(bad['of'], 1):.1%} of it)",
                           "find where they come from: missing values in the data, a division by zero or a log of "
                           "zero in a transform; fill or drop them before they reach the model")
        if m["constant"] is not None:
            c = m["constant"]
            return Verdict("fail", f"every value entering the net at step {c['step']} is {c['value']:.4g}",
                           "the input carries no information: a transform that zeroes or clamps everything, the "
                           "wrong tensor passed to the model")
        if m["integer"]:
            return Verdict("pass", f"{m['batches']} sampled batches of token ids ({m['dtype']} {shape}) in "
                           f"[{m['min']:.0f}, {m['max']:.0f}]")
        mean, std = m.get("mean", math.nan), m.get("std", math.nan)
        where = f"{m['batches']} sampled batches ({m['dtype']} {shape}): mean {mean:.3g}, std {std:.3g}, " \
                f"range [{m['min']:.3g}, {m['max']:.3g}]"
        if abs(mean) > t.mean_tolerance or not t.std_low <= std <= t.std_high:
            return Verdict("warn", f"the inputs are not normalized ({where}; expected a mean within "
                           f"+-{t.mean_tolerance:g} and a std in [{t.std_low:g}, {t.std_high:g}])",
                           "standardize the inputs with the training set's statistics ((x - mean) / std per "
                           "feature or channel), or scale pixels to [0, 1]")
        return Verdict("pass", where)
