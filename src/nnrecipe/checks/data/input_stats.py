"""input-stats: per-feature (or, for images, per-channel) mean, std and range of the training inputs.

From the profile's running moments (Chan's parallel update, chunk by chunk). What is worth a look depends on
the kind of input:

- images and signals share one physical scale across pixels or time steps, and nets expect it normalized:
  raw 0-255 pixels or int16 audio (a mean or std far from 0 and 1) warn, as do constant channels and channels
  on scales `channel_ratio_warn` apart.
- table features legitimately come in their own units (a concentration next to a count next to a price; a
  model that standardizes its inputs itself), so only degenerate ones warn: constant features, features
  holding NaN or Inf, feature scales `scale_ratio_warn` (1e6) apart, and features whose values sit so far from
  zero relative to their spread that float32 loses the spread (`offset_ratio_warn`).

For every kind, val or test normalized differently from train (a median shift of the feature means in train
stds) makes every evaluation wrong and warns. All of these are a "look at this": the skeleton's init-loss
check fails the setups where the scale actually breaks the start.

Artifacts: ``mean``, ``std``, ``low``, ``high`` — (features,) arrays of the train split — and ``per_channel``
(True for images), for a per-feature band plot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.audit.profile import Moments
from nnrecipe.checks.base import DataCheck, Verdict, picture, picture_fields
from nnrecipe.checks.context import DataContext
from nnrecipe.checks.data.common import LISTED, Profile, profile_of


@dataclass(frozen=True)
class InputStatsThresholds:
    #: images and signals count as normalized when the |mean| of every channel (or of all values) is at most this
    mean_tolerance: float = 3.0
    #: ... and every non-constant channel's std (or the std of all values) lies in [std_low, std_high]
    std_low: float = 0.05
    std_high: float = 20.0
    #: images: warn when the largest channel std is this many times the smallest non-zero one
    channel_ratio_warn: float = 100.0
    #: tables: warn when the largest feature std is this many times the smallest non-zero one
    scale_ratio_warn: float = 1e6
    #: tables: warn when a feature's |mean| is this many times its std (float32 keeps about 7 digits)
    offset_ratio_warn: float = 1e6
    #: warn when a held-out split's median feature mean sits this many train stds from train's
    split_shift_warn: float = 0.5


@dataclass(frozen=True)
class InputStatsEvidence:
    #: the kind of input ("image", "signal", "table"); statistics per channel for images
    kind: str
    per_channel: bool
    features: int
    #: [min, max] over the train features (channels) of their mean, of their non-zero std, and of the values
    mean_range: list[float]
    std_range: list[float]
    value_range: list[float]
    #: [mean, std] of all train values together
    pooled: list[float]
    #: features (names or positions; at most LISTED) that are constant, or hold NaN/Inf, and how many
    constant_features: list[str | int]
    constant_count: int
    nonfinite_features: list[str | int]
    nonfinite_count: int
    #: the largest non-zero feature std over the smallest; the largest |mean| / std of a varying feature
    scale_ratio: float
    offset_ratio: float
    worst_mean_feature: str | int
    #: per held-out split: the median shift of its feature means from train's, in train stds
    split_mean_shift: dict[str, float]
    #: the report's per-feature band plot: (features,) arrays of the train split
    mean: np.ndarray | None = picture()
    std: np.ndarray | None = picture()
    low: np.ndarray | None = picture()
    high: np.ndarray | None = picture()


class InputStats(DataCheck[InputStatsEvidence, InputStatsThresholds]):
    """Per-feature or per-channel mean, std and range: normalization, degenerate features, split shifts."""

    id = "input-stats"
    stage = "data"
    title = "Input statistics and normalization"
    Thresholds = InputStatsThresholds

    def applies(self, ctx: DataContext) -> str | None:
        p = profile_of(ctx)
        if p.data.kind == "text":
            return "inputs are token ids, not values to normalize; see vocab-coverage"
        if _moments(p, "train") is None:
            return "no readable training input to take statistics of"
        return None

    def measure(self, ctx: DataContext) -> InputStatsEvidence:
        p = profile_of(ctx)
        mom = _moments(p, "train")
        assert mom is not None and mom.mean is not None and mom.n is not None and mom.low is not None and mom.high is not None  # applies()
        mean, std = mom.mean, mom.std
        varying = std > 0
        names = list(p.data.feature_names or [])
        nonfinite = np.asarray(mom.count - mom.n, dtype=np.int64)
        offset = np.abs(mean[varying]) / std[varying] if varying.any() else np.zeros(0)
        return InputStatsEvidence(
            kind=p.data.kind,
            per_channel=p.data.kind == "image",
            features=int(len(mean)),
            mean_range=[float(mean.min()), float(mean.max())],
            std_range=[float(std[varying].min()) if varying.any() else 0.0, float(std.max())],
            value_range=[float(mom.low.min()), float(mom.high.max())],
            pooled=_pooled(mom),
            constant_features=[_name(names, j) for j in np.nonzero(~varying)[0][:LISTED]],
            constant_count=int((~varying).sum()),
            nonfinite_features=[_name(names, j) for j in np.nonzero(nonfinite)[0][:LISTED]],
            nonfinite_count=int((nonfinite > 0).sum()),
            scale_ratio=float(std[varying].max() / std[varying].min()) if varying.any() else 1.0,
            offset_ratio=float(offset.max()) if len(offset) else 0.0,
            worst_mean_feature=_name(names, int(np.argmax(np.abs(mean)))),
            split_mean_shift=_split_shifts(p, mean, std),
            mean=mean, std=std, low=mom.low, high=mom.high,
        )

    def pictures(self, e: InputStatsEvidence) -> Mapping[str, Any]:
        return {**picture_fields(e), "per_channel": e.per_channel}

    def judge(self, e: InputStatsEvidence, t: InputStatsThresholds) -> Verdict:
        what = "channel" if e.per_channel else "feature"
        notes, fixes = _scale_notes(e, t) if e.kind in ("image", "signal") else _table_notes(e, t)
        if e.nonfinite_count:
            notes.append(f"{e.nonfinite_count} {what}s hold NaN or Inf (e.g. {e.nonfinite_features[:5]})")
            fixes.append("find where they enter (a missing value read as NaN, a division by zero) and impute or drop them")
        shifted = {k: v for k, v in e.split_mean_shift.items() if v > t.split_shift_warn}
        if shifted:
            notes.append("held-out inputs sit away from train's: " + ", ".join(f"{k} median shift {v:.2f} std" for k, v in shifted.items()))
            fixes.append("normalize every split with the training split's statistics, and check they come from the same source")
        (mlo, mhi), (slo, shi) = e.mean_range, e.std_range
        if notes:
            return Verdict("warn", "; ".join(notes), "; ".join(fixes))
        return Verdict("pass", f"no degenerate inputs: {what} means {mlo:.3g}..{mhi:.3g}, stds {slo:.3g}..{shi:.3g}"
                       + (f" (scales {e.scale_ratio:.3g}x apart: a table's own units)" if e.kind == "table" and
                          e.scale_ratio > 100 else ""))


def _split_shifts(p: Profile, mean: np.ndarray, std: np.ndarray) -> dict[str, float]:
    """Per held-out split with the same features: the median |mean - train mean| / train std over varying features."""
    varying = std > 0
    shifts = {}
    for name in p.splits:
        other = _moments(p, name)
        if name == "train" or other is None or other.mean is None or len(other.mean) != len(mean) or not varying.any():
            continue
        shifts[name] = float(np.median(np.abs(other.mean[varying] - mean[varying]) / std[varying]))
    return shifts


def _scale_notes(e: InputStatsEvidence, t: InputStatsThresholds) -> tuple[list[str], list[str]]:
    """Images and signals: one scale for every pixel or step, expected normalized."""
    notes, fixes = [], []
    what = "channel" if e.per_channel else "value"
    (mlo, mhi), (slo, shi) = e.mean_range, e.std_range
    if e.per_channel:
        off = max(abs(mlo), abs(mhi)) > t.mean_tolerance or slo < t.std_low or shi > t.std_high
        detail = f"channel means {mlo:.3g}..{mhi:.3g}, stds {slo:.3g}..{shi:.3g}"
    else:
        mean, std = e.pooled
        off = abs(mean) > t.mean_tolerance or not t.std_low <= std <= t.std_high
        detail = f"all values: mean {mean:.3g}, std {std:.3g}"
    if off:
        notes.append(f"inputs are not normalized: {detail}, values {e.value_range[0]:.3g}..{e.value_range[1]:.3g}")
        fixes.append(f"standardize each {what} with the training split's mean and std (and apply the same numbers to val/test)")
    if e.per_channel and e.constant_count:
        notes.append(f"{e.constant_count} constant channels (e.g. {e.constant_features[:5]})")
        fixes.append("a constant channel carries no information: drop it, or check the decoding that flattened it")
    if e.per_channel and e.scale_ratio > t.channel_ratio_warn:
        notes.append(f"channel scales differ {e.scale_ratio:.0f}x")
        fixes.append("scale each channel separately so no one dominates")
    return notes, fixes


def _table_notes(e: InputStatsEvidence, t: InputStatsThresholds) -> tuple[list[str], list[str]]:
    """Tables: features in their own units are fine; only degenerate ones are worth a look."""
    notes, fixes = [], []
    if e.constant_count:
        notes.append(f"{e.constant_count} constant features (e.g. {e.constant_features[:5]})")
        fixes.append("constant inputs carry no information: drop them, or check the preprocessing that flattened them")
    if e.scale_ratio >= t.scale_ratio_warn:
        notes.append(f"feature scales differ {e.scale_ratio:.2g}x (stds {e.std_range[0]:.3g}..{e.std_range[1]:.3g})")
        fixes.append("standardize the features (or check the units of the largest and smallest): at such ratios one "
                     "feature swamps every other in a dot product")
    if e.offset_ratio >= t.offset_ratio_warn:
        notes.append(f"a feature's values sit {e.offset_ratio:.2g} stds from zero: float32 loses their variation")
        fixes.append("subtract the feature's mean (a timestamp or an id minus its start) before converting to float32")
    return notes, fixes


def _pooled(mom: Moments) -> list[float]:
    """The mean and std of all values together, from the per-feature moments."""
    assert mom.n is not None and mom.mean is not None and mom.m2 is not None
    n = np.maximum(mom.n, 1)
    mean = float((mom.mean * n).sum() / n.sum())
    var = float(((mom.m2 + n * (mom.mean - mean) ** 2).sum()) / max(n.sum() - 1, 1))
    return [mean, float(np.sqrt(var))]


def _moments(p: Profile, split: str) -> Moments | None:
    sp = p.splits.get(split)
    if sp is None:
        return None
    mom = sp.channel_moments if p.data.kind == "image" else sp.moments
    return mom if mom.mean is not None else None


def _name(names: list[str], j: int) -> str | int:
    return names[j] if j < len(names) else int(j)
