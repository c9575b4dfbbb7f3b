"""outliers: samples far out along any property that fits the data, with the most extreme ones shown.

Properties, one value per sample from the profile: height, width, aspect, brightness and contrast for images;
L2 norm, mean, std, min and max for vectors and signals; length and distinct-token fraction for token
sequences. A sample is an outlier when its robust z-score — distance from the median in units of
1.4826 x MAD, or of the std when most values are equal — passes `z_threshold`. Per feature, the train
split's extreme values are also compared with that feature's mean and std. "The outliers especially almost
always uncover some bugs in data quality or preprocessing": this check warns, never fails.

Artifacts: ``extremes`` {property: {"high": [...], "low": [...]}} with up to 4 dicts {sample, value, z, input}
each side, and ``histograms`` {property: (counts, bin_edges)} over all samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.data.common import pictures, profile_of

SHOWN = 4


@dataclass(frozen=True)
class OutliersThresholds:
    #: a sample is an outlier along a property past this robust z-score (a Gaussian reaches ~5.5 in 10^8 draws)
    z_threshold: float = 8.0
    #: a feature's extreme value is an outlier past this many of its stds from its mean
    feature_z: float = 12.0


class Outliers(Check):
    """Outliers along every property of the data, with the most extreme examples."""

    id = "outliers"
    stage = "data"
    title = "Outliers along every property"
    Thresholds = OutliersThresholds

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        p = profile_of(ctx)
        train = p.split_of == 0
        per_property, extremes, histograms = {}, {}, {}
        for name, values in p.properties.items():
            if name.startswith("_") or len(values) == 0:
                continue
            v = values.astype(np.float64)
            z = robust_z(v, reference=v[train] if train.any() else v)
            flagged = np.abs(z) > self.thresholds.z_threshold
            order = np.argsort(z)
            per_property[name] = {
                "median": float(np.median(v)), "outliers": int(flagged.sum()),
                "max_abs_z": float(np.max(np.abs(z))) if len(z) else 0.0,
                "examples": [{**p.describe(int(i)), "value": float(v[i]), "z": round(float(z[i]), 1)}
                             for i in np.argsort(-np.abs(z))[:5] if flagged[i]],
            }
            extremes[name] = {"high": _shown(p, order[::-1][:SHOWN], v, z), "low": _shown(p, order[:SHOWN], v, z)}
            finite = v[np.isfinite(v)]
            histograms[name] = np.histogram(finite, bins=30) if len(finite) else (np.zeros(0), np.zeros(0))
        return {"properties": per_property, "feature_extremes": _feature_extremes(p, self.thresholds.feature_z),
                "_artifacts": {"extremes": extremes, "histograms": histograms}}

    def judge(self, m: Mapping[str, Any], t: OutliersThresholds) -> Verdict:
        hits = {k: v for k, v in m["properties"].items() if v["outliers"]}
        features = m["feature_extremes"]
        if not hits and not features:
            worst = max(m["properties"].items(), key=lambda kv: kv[1]["max_abs_z"], default=None)
            tail = f"; largest robust z {worst[1]['max_abs_z']:.1f} ({worst[0]})" if worst else ""
            return Verdict("pass", f"no sample beyond robust z {t.z_threshold:g} along {len(m['properties'])} properties{tail}")
        parts = [f"{k}: {v['outliers']} (max |z| {v['max_abs_z']:.0f})" for k, v in hits.items()]
        if features:
            parts.append(f"{len(features)} features with extreme values (e.g. feature {features[0]['feature']} at "
                         f"{features[0]['z']:.0f} std)")
        return Verdict("warn", "outliers: " + "; ".join(parts),
                       "look at the extremes: odd sizes, blank or saturated images, values in the wrong unit or a "
                       "sentinel like -999 usually point to a bug in collection or preprocessing")


def robust_z(v: np.ndarray, *, reference: np.ndarray) -> np.ndarray:
    """(v - median) / scale, scale = 1.4826 MAD of the reference, or its std when most values are equal."""
    ref = reference[np.isfinite(reference)]
    if len(ref) == 0:
        return np.zeros_like(v)
    median = np.median(ref)
    scale = 1.4826 * np.median(np.abs(ref - median))
    if scale <= 0:
        scale = float(np.std(ref))
    if scale <= 0:
        return np.where(v == median, 0.0, np.inf) * np.sign(v - median + 0.0)
    z = (v - median) / scale
    return np.nan_to_num(z, nan=0.0)


def _shown(p: Any, rows: np.ndarray, v: np.ndarray, z: np.ndarray) -> list[dict[str, Any]]:
    inputs = pictures(p, rows)
    return [{"sample": p.describe(int(i)), "value": float(v[i]), "z": float(z[i]), "input": x} for i, x in zip(rows, inputs, strict=False)]


def _feature_extremes(p: Any, limit: float) -> list[dict[str, Any]]:
    sp = p.splits.get("train")
    if sp is None or sp.moments.mean is None or p.data.kind in ("image", "tokens"):
        return []
    mom = sp.moments
    std = np.where(mom.std > 0, mom.std, np.inf)
    z = np.maximum((mom.high - mom.mean) / std, (mom.mean - mom.low) / std)
    names = list(p.data.feature_names or [])
    return [{"feature": names[j] if j < len(names) else int(j), "z": float(z[j]), "low": float(mom.low[j]),
             "high": float(mom.high[j])} for j in np.argsort(-z)[:10] if z[j] > limit]
