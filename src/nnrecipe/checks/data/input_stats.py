"""input-stats: per-feature (or, for images, per-channel) mean, std and range of the training inputs.

From the profile's running moments (Chan's parallel update, chunk by chunk). Inputs far from normalized,
constant features and features on wildly different scales slow or stall training; val or test normalized
differently from train (a shifted mean in train-std units) makes every evaluation wrong. All of these are a
"look at this": the skeleton's init-loss check fails the setups where they actually break the start.

Artifacts: ``mean``, ``std``, ``low``, ``high`` — (features,) arrays of the train split — and ``per_channel``
(True for images), for a per-feature band plot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.data.common import LISTED, profile_of


@dataclass(frozen=True)
class InputStatsThresholds:
    #: inputs count as normalized when every feature's |mean| is at most this ...
    mean_tolerance: float = 3.0
    #: ... and every non-constant feature's std lies in [std_low, std_high]
    std_low: float = 0.05
    std_high: float = 20.0
    #: warn when the largest feature std is this many times the smallest non-zero one
    scale_ratio_warn: float = 100.0
    #: warn when a held-out split's median feature mean sits this many train stds from train's
    split_shift_warn: float = 0.5


class InputStats(Check):
    """Per-feature or per-channel mean, std and range: normalization, constant features, scales."""

    id = "input-stats"
    stage = "data"
    title = "Input statistics and normalization"
    Thresholds = InputStatsThresholds

    def applies(self, ctx: CheckContext) -> str | None:
        p = profile_of(ctx)
        if p.data.kind == "tokens":
            return "inputs are token ids, not values to normalize; see vocab-coverage"
        if _moments(p, "train") is None:
            return "no readable training input to take statistics of"
        return None

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        p = profile_of(ctx)
        mom = _moments(p, "train")
        mean, std = mom.mean, mom.std
        varying = std > 0
        names = list(p.data.feature_names or [])
        measured: dict[str, Any] = {
            "per_channel": p.data.kind == "image",
            "features": int(len(mean)),
            "mean_range": [float(mean.min()), float(mean.max())],
            "std_range": [float(std[varying].min()) if varying.any() else 0.0, float(std.max())],
            "value_range": [float(mom.low.min()), float(mom.high.max())],
            "constant_features": [_name(names, j) for j in np.nonzero(~varying)[0][:LISTED]],
            "constant_count": int((~varying).sum()),
            "scale_ratio": float(std[varying].max() / std[varying].min()) if varying.any() else 1.0,
            "worst_mean_feature": _name(names, int(np.argmax(np.abs(mean)))),
            "_artifacts": {"mean": mean, "std": std, "low": mom.low, "high": mom.high, "per_channel": p.data.kind == "image"},
        }
        shifts = {}
        for name in p.splits:
            other = _moments(p, name)
            if name == "train" or other is None or other.mean is None or len(other.mean) != len(mean) or not varying.any():
                continue
            shifts[name] = float(np.median(np.abs(other.mean[varying] - mean[varying]) / std[varying]))
        measured["split_mean_shift"] = shifts
        return measured

    def judge(self, m: Mapping[str, Any], t: InputStatsThresholds) -> Verdict:
        notes, fixes = [], []
        (mlo, mhi), (slo, shi) = m["mean_range"], m["std_range"]
        what = "channel" if m["per_channel"] else "feature"
        if max(abs(mlo), abs(mhi)) > t.mean_tolerance or slo < t.std_low or shi > t.std_high:
            notes.append(f"inputs are not normalized: {what} means {mlo:.3g}..{mhi:.3g}, stds {slo:.3g}..{shi:.3g}, "
                         f"values {m['value_range'][0]:.3g}..{m['value_range'][1]:.3g}")
            fixes.append(f"standardize each {what} with the training split's mean and std (and apply the same numbers to val/test)")
        if m["constant_count"]:
            notes.append(f"{m['constant_count']} constant {what}s (e.g. {m['constant_features'][:5]})")
            fixes.append("constant inputs carry no information: drop them, or check the preprocessing that flattened them")
        if m["scale_ratio"] > t.scale_ratio_warn:
            notes.append(f"{what} scales differ {m['scale_ratio']:.0f}x")
            fixes.append(f"scale each {what} separately so no one dominates")
        shifted = {k: v for k, v in m["split_mean_shift"].items() if v > t.split_shift_warn}
        if shifted:
            notes.append("held-out inputs sit away from train's: " + ", ".join(f"{k} median shift {v:.2f} std" for k, v in shifted.items()))
            fixes.append("normalize every split with the training split's statistics, and check they come from the same source")
        if notes:
            return Verdict("warn", "; ".join(notes), "; ".join(fixes))
        return Verdict("pass", f"inputs normalized: {what} means {mlo:.2f}..{mhi:.2f}, stds {slo:.2f}..{shi:.2f}")


def _moments(p: Any, split: str) -> Any:
    sp = p.splits.get(split)
    if sp is None:
        return None
    mom = sp.channel_moments if p.data.kind == "image" else sp.moments
    return mom if mom.mean is not None else None


def _name(names: list[str], j: int) -> Any:
    return names[j] if j < len(names) else int(j)
