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

from nnrecipe.catalog import WATCH_CHECK_TITLES
from nnrecipe.checks.base import picture
from nnrecipe.watching.checks.base import Verdict, WatchCheck, window_median
from nnrecipe.watching.record import WatchRecord


@dataclass(frozen=True)
class InputStatsThresholds:
    #: normalized: the batch mean within +-mean_tolerance ...
    mean_tolerance: float = 3.0
    #: ... and its std within [std_low, std_high]
    std_low: float = 0.05
    std_high: float = 20.0


@dataclass(frozen=True)
class InputStatsEvidence:
    #: the sampled input batches, and the shape, dtype and kind (token ids or not) of the first one
    batches: int
    shape: list[int]
    dtype: str
    integer: bool
    #: the first batch with NaN/Inf values ({"step", "count", "of"}) and the first float batch of one constant
    #: value ({"step", "value"}); None: none seen
    non_finite: dict[str, Any] | None
    constant: dict[str, Any] | None
    #: the lowest and highest value seen (None: no finite value)
    min: float | None
    max: float | None
    #: the median over the float batches of their mean and their std (None: no float batch)
    mean: float | None = None
    std: float | None = None
    #: from the first batch with per-feature statistics: its features (columns, channels) of zero spread ...
    constant_features: int | None = None
    #: ... and for the report's picture, its mean and std per feature, and whether those are image channels
    feature_mean: np.ndarray | None = picture()
    feature_std: np.ndarray | None = picture()
    per_channel: bool | None = picture()


class InputStats(WatchCheck[InputStatsEvidence, InputStatsThresholds]):
    id = "input-stats"
    title = WATCH_CHECK_TITLES[id]
    Thresholds = InputStatsThresholds

    def applies(self, record: WatchRecord) -> str | None:
        if not record.inputs:
            return "no input tensor reached the model's forward on a sampled step"
        return None

    def measure(self, record: WatchRecord) -> InputStatsEvidence:
        batches = record.inputs
        floats = [b for b in batches if not b["integer"] and "mean" in b]
        first = batches[0]
        art = next((b for b in batches if "feature_mean" in b), None)
        return InputStatsEvidence(
            batches=len(batches), shape=first["shape"], dtype=first["dtype"], integer=first["integer"],
            non_finite=next(({"step": b["step"], "count": b["non_finite"], "of": b["values"]}
                             for b in batches if b["non_finite"]), None),
            constant=next(({"step": b["step"], "value": b["mean"]} for b in floats
                           if b["std"] == 0 and b["values"] > 1), None),
            min=min((b["min"] for b in batches if "min" in b), default=None),
            max=max((b["max"] for b in batches if "max" in b), default=None),
            mean=window_median([b["mean"] for b in floats]) if floats else None,
            std=window_median([b["std"] for b in floats]) if floats else None,
            constant_features=art["constant_features"] if art is not None else None,
            feature_mean=np.asarray(art["feature_mean"]) if art is not None else None,
            feature_std=np.asarray(art["feature_std"]) if art is not None else None,
            per_channel=len(art["shape"]) == 4 if art is not None else None)

    def pictures(self, e: InputStatsEvidence) -> Mapping[str, Any]:
        # the picture's "mean" and "std" are per feature; the document's `mean` and `std` are over the batches
        if e.feature_mean is None:
            return {}
        return {"mean": e.feature_mean, "std": e.feature_std, "per_channel": e.per_channel}

    def judge(self, e: InputStatsEvidence, t: InputStatsThresholds) -> Verdict:
        shape = "x".join(str(d) for d in e.shape)
        bad = e.non_finite
        if bad is not None:
            return Verdict("fail", f"the input batch of step {bad['step']} holds {bad['count']} NaN/Inf values "
                           f"({bad['count'] / max(bad['of'], 1):.1%} of it)",
                           "find where they come from: missing values in the data, a division by zero or a log of "
                           "zero in a transform; fill or drop them before they reach the model")
        if e.constant is not None:
            c = e.constant
            return Verdict("fail", f"every value entering the net at step {c['step']} is {c['value']:.4g}",
                           "the input carries no information: a transform that zeroes or clamps everything, the "
                           "wrong tensor passed to the model")
        if e.integer:
            return Verdict("pass", f"{e.batches} sampled batches of token ids ({e.dtype} {shape}) in "
                           f"[{e.min:.0f}, {e.max:.0f}]")
        return _scale_verdict(e, t, shape)


def _scale_verdict(e: InputStatsEvidence, t: InputStatsThresholds, shape: str) -> Verdict:
    """Float inputs: normalized (a pass) or not (a warning)."""
    mean = e.mean if e.mean is not None else math.nan
    std = e.std if e.std is not None else math.nan
    where = f"{e.batches} sampled batches ({e.dtype} {shape}): mean {mean:.3g}, std {std:.3g}, " \
            f"range [{e.min:.3g}, {e.max:.3g}]"
    if abs(mean) > t.mean_tolerance or not t.std_low <= std <= t.std_high:
        return Verdict("warn", f"the inputs are not normalized ({where}; expected a mean within "
                       f"+-{t.mean_tolerance:g} and a std in [{t.std_low:g}, {t.std_high:g}])",
                       "standardize the inputs with the training set's statistics ((x - mean) / std per "
                       "feature or channel), or scale pixels to [0, 1]")
    return Verdict("pass", where)
