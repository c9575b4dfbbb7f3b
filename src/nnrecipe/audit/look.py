"""Look at the data: random samples of every class and split, and the samples at the extremes of each property.

"Scanning through thousands of examples ... visualize their distributions and the outliers along any axis" (the
recipe, step 1). Everything comes from the data profile the data checks already built (one streaming pass):
the random samples from each split's reservoir, the extremes from the per-sample properties (brightness and
contrast of images, norm, mean, std, min and max of vectors and signals, length of token sequences), per class
for classification. Only the extreme samples themselves are read again from the data.

This module picks and reads the samples; `nnrecipe.report.figures.look` draws them. `DataView` holds a check
context (an Experiment's, or a data path's) and measures when the report first asks, so a command whose report
is never drawn pays nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnrecipe.audit.context import profile_of
from nnrecipe.audit.profile import inputs_of

#: classes shown (the first ones by id; the page says how many were left out)
MAX_CLASSES = 10
#: random samples shown per class and split, by kind of data
PER_CLASS = {"image": 8, "signal": 6, "table": 3, "text": 2}
#: random samples per split when there are no classes (regression: per third of the target's range)
PER_SPLIT = {"image": 16, "signal": 12, "table": 6, "text": 6}
#: properties shown at their extremes
MAX_PROPERTIES = 4


@dataclass
class DataView:
    """What the "look at the data" section shows, measured from a context's data profile on first use."""

    context: Any
    vocab: Any = None
    seed: int = 0
    _measured: dict[str, Any] | None = field(default=None, repr=False)

    def measured(self) -> dict[str, Any]:
        if self._measured is None:
            self._measured = look_at_data(profile_of(self.context), vocab=self.vocab, seed=self.seed)
        return self._measured


def look_at_data(profile: Any, *, vocab: Any = None, seed: int = 0) -> dict[str, Any]:
    """Random samples per class and split, and per property the samples at both ends (per class)."""
    data = profile.data
    kind = data.kind
    classes = _classes(profile) if data.task == "classification" else None
    shown = classes[:MAX_CLASSES] if classes is not None else None
    out: dict[str, Any] = {"kind": kind, "task": data.task, "class_names": list(data.class_names or []) or None,
                           "vocab": vocab, "montage": [], "extremes": []}
    rng = np.random.default_rng(seed)
    for split, sp in profile.splits.items():
        if sp.reservoir is not None and sp.reservoir.index:
            out["montage"].append({"split": split, "size": sp.size,
                                   "groups": _montage(sp.reservoir, data.task, kind, shown, rng)})
    out["extremes"] = _extremes(profile, shown)
    if classes is not None and len(classes) > MAX_CLASSES:
        out["note"] = f"the first {MAX_CLASSES} of {len(classes)} classes are shown"
    return out


def _classes(profile: Any) -> list[int]:
    labelled = profile.target[profile.labelled] if profile.labelled is not None else profile.target
    return sorted(int(c) for c in np.unique(labelled.astype(np.int64)))


def _montage(reservoir: Any, task: str, kind: str, classes: list[int] | None, rng: np.random.Generator) -> list[dict]:
    """Groups of random reservoir samples: per class, per third of a regression target's range, or one group."""
    targets = [np.asarray(t) for t in reservoir.targets]
    order = rng.permutation(len(reservoir.index))
    if classes is not None:
        ids = np.array([int(t.reshape(-1)[0]) if t.size else -1 for t in targets])
        keys: list[tuple[str, np.ndarray]] = [(str(c), ids == c) for c in classes]
        per = PER_CLASS[kind]
    elif task == "regression":
        values = np.array([float(t.mean()) if t.size else np.nan for t in targets])
        edges = np.nanquantile(values, [1 / 3, 2 / 3]) if np.isfinite(values).any() else [np.nan, np.nan]
        keys = [("lowest third of the target", values <= edges[0]),
                ("middle third", (values > edges[0]) & (values <= edges[1])),
                ("highest third", values > edges[1])]
        per = PER_CLASS[kind]
    else:
        keys, per = [("random samples", np.ones(len(targets), bool))], PER_SPLIT[kind]
    groups = []
    for label, mask in keys:
        picked = [int(i) for i in order if mask[i]][:per]
        groups.append({"label": label, "class": int(label) if classes is not None else None,
                       "items": [{"index": int(reservoir.index[i]), "input": reservoir.pictures[i],
                                  "target": targets[i]} for i in picked]})
    return groups


def _extremes(profile: Any, classes: list[int] | None) -> list[dict[str, Any]]:
    """Per property that varies: for each class (or over all samples) the lowest and the highest sample."""
    varying = [(name, values) for name, values in profile.properties.items()
               if not name.startswith("_") and len(values) and np.unique(values[np.isfinite(values)]).size > 1]
    found = []
    labelled = profile.labelled if profile.labelled is not None else np.ones(len(profile.target), bool)
    for name, values in varying[:MAX_PROPERTIES]:
        groups = []
        for label, klass, mask in _groups(profile, classes, labelled):
            rows = np.nonzero(mask & np.isfinite(values))[0]
            if not len(rows):
                continue
            low, high = int(rows[np.argmin(values[rows])]), int(rows[np.argmax(values[rows])])
            low_in, high_in = inputs_of(profile, [low, high])
            groups.append({"label": label, "class": klass,
                           "low": {**profile.describe(low), "value": float(values[low]), "input": low_in},
                           "high": {**profile.describe(high), "value": float(values[high]), "input": high_in}})
        found.append({"property": name, "groups": groups})
    return found


def _groups(profile: Any, classes: list[int] | None,
            labelled: np.ndarray) -> list[tuple[str, int | None, np.ndarray]]:
    if classes is None:
        return [("all samples", None, np.ones(len(profile.target), bool))]
    return [(str(c), c, labelled & (profile.target.astype(np.int64) == c)) for c in classes]
