"""split-leakage: samples shared between train, val and test, exactly or nearly, and overlapping token windows.

A val or test sample that is also in train measures memory, not generalization. Exact sharing is found by
the exact hash; near sharing (a resized, recompressed or slightly noisy copy) by the near hash index of the
profile (pHash for images, SimHash for vectors and signals; see `nnrecipe.audit.hashing`).

How much sharing is a leak depends on the source. A source that repeats some of its samples (a names list
where common names occur several times, code with boilerplate lines) puts copies into val even when it is
split perfectly at random: a val sample has a copy in train about as often as a train sample has one inside
train. So the train split's own duplicate rate is the yardstick:

- **fail** when at least `exact_fail_fraction` of a held-out split are exact copies of an earlier split's
  samples *and* that share is more than `fail_excess` times what train's own duplicate rate predicts (plus
  `excess_sigmas` binomial standard deviations), from at least `fail_copies` samples: copies put there, not
  repeats of the source. Data without repeats predicts 0, so any share past `exact_fail_fraction` fails.
- **warn** when the shared share (exact or near) exceeds the prediction at all (any copy, where train has
  none), or when at least `warn_copies` held-out samples are exact copies and their share is not clearly
  below the prediction: a random split of a repeating source, whose copies make that part of val measure
  memory. The summary gives the count, the prediction and examples.
- **pass** when nothing is shared, or clearly less than a random split would leave: a contiguous split of
  text with boilerplate lines shares only the repeats that cross the cut.

Token windows cut from one text (samples of one length) are judged by the text they share, not by equal
windows: a random split of overlapping windows (a stride below the window length) leaves almost every val
window with its first half at the end of one train window and its second half at the start of another. The
profile hashes every window's first and last half and every half-window span of the train windows
(`nnrecipe.audit.spans`); a held-out split fails when `overlap_fail` of its windows have both ends in train
text, and warns from `overlap_warn`. Natural repetition (boilerplate lines) rarely gives a window both ends:
4-7% of val windows for a contiguous split of Python source in 32-token windows, against 83-100% for a random
split with a stride of up to half the window.

Artifacts: ``pairs`` — up to 8 dicts {a, b, a_input, b_input, a_target, b_target} for leaked pairs
(exact first), shown side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, cast

import numpy as np

from nnrecipe.checks.base import DataCheck, Verdict, picture
from nnrecipe.checks.context import DataContext
from nnrecipe.checks.data.common import LISTED, Pair, Profile, pair_pictures, pictures, profile_of

#: tokens of a shared token sample shown in the evidence
SHOWN_TOKENS = 32


@dataclass(frozen=True)
class SplitLeakageThresholds:
    #: fail when at least this fraction of val or test is an exact copy of an earlier split's samples ...
    exact_fail_fraction: float = 0.01
    #: ... and more than this many times the share train's own duplicate rate predicts ...
    fail_excess: float = 2.0
    #: ... and at least this many samples (one or two copies in a small val split are a look, not a closed gate)
    fail_copies: int = 3
    #: the prediction is exceeded only by more than this many binomial standard deviations
    excess_sigmas: float = 3.0
    #: warn when at least this many held-out samples are exact copies, unless clearly fewer than predicted
    warn_copies: int = 10
    #: token windows: fail / warn when this fraction of a held-out split's windows have both ends in train text
    overlap_fail: float = 0.5
    overlap_warn: float = 0.2
    #: fewer windows than this that could be looked up cannot be judged for overlap
    min_windows: int = 20


class Shared(TypedDict):
    """One (earlier, held-out) pair of splits: held-out samples with an exact or a near copy in the earlier
    split, and the held-out split's size."""

    exact: int
    near: int
    size: int


class Windows(TypedDict):
    """Token windows of one held-out split: the half-window span hashed, the windows, how many could be looked up
    (`tested`) and have both ends in train text (`overlapping`, at most LISTED named), and the hash sampling."""

    span: int
    windows: int
    tested: int
    overlapping: int
    sampling: int
    fraction: float
    examples: list[dict[str, Any]]


@dataclass(frozen=True)
class SplitLeakageEvidence:
    #: per "earlier-later" pair of splits (e.g. "train-val"): counts of shared samples, and their share of
    #: the later split ({exact, near})
    shared: dict[str, Shared]
    fractions: dict[str, dict[str, float]]
    #: the share of train samples with an exact copy inside train ("exact"), and with an exact or near one ("any")
    train_duplicate_rate: dict[str, float]
    #: token windows, per held-out split
    windows: dict[str, Windows]
    #: at most LISTED shared samples named on both sides ({earlier, held_out, tokens?}); near pairs likewise
    exact_examples: list[dict[str, Any]]
    near_examples: list[list[dict[str, Any]]]
    #: the report's side-by-side pictures of leaked pairs, exact first
    pairs: list[Pair] = picture()


class SplitLeakage(DataCheck[SplitLeakageEvidence, SplitLeakageThresholds]):
    """Samples shared between train, val and test (exact and near), and overlapping token windows."""

    id = "split-leakage"
    stage = "data"
    title = "Samples shared between splits"
    Thresholds = SplitLeakageThresholds

    def applies(self, ctx: DataContext) -> str | None:
        if len(profile_of(ctx).splits) < 2:
            return "the data has a single split: nothing to leak between (put train/ val/ test/ folders or a split column)"
        return None

    def measure(self, ctx: DataContext) -> SplitLeakageEvidence:
        p = profile_of(ctx)
        exact_a, exact_b = _exact_cross(p)
        near_a, near_b = p.near_pairs()
        cross = p.split_of[near_a] != p.split_of[near_b]
        near_a, near_b = near_a[cross], near_b[cross]
        shared = _shared(p, (exact_a, exact_b), (near_a, near_b))
        return SplitLeakageEvidence(
            shared=shared,
            fractions={key: {"exact": counts["exact"] / max(counts["size"], 1),
                             "near": counts["near"] / max(counts["size"], 1)} for key, counts in shared.items()},
            train_duplicate_rate=_train_duplicate_rates(p),
            windows=_window_overlaps(p),
            exact_examples=_examples(p, exact_a, exact_b),
            near_examples=[[p.describe(int(i)), p.describe(int(j))] for i, j in zip(near_a[:LISTED], near_b[:LISTED], strict=False)],
            pairs=pair_pictures(p, np.r_[exact_a, near_a], np.r_[exact_b, near_b]),
        )

    def judge(self, e: SplitLeakageEvidence, t: SplitLeakageThresholds) -> Verdict:
        fix = ("remove from val/test every sample that also occurs in train (dedupe before splitting, and split by "
               "source — patient, user, video — when one source yields many similar samples)")
        overlap = _judge_windows(e, t)
        if overlap is not None and overlap.status == "fail":
            return overlap
        verdicts = {key: _judge_pair(key, counts, e.fractions[key], e.train_duplicate_rate, t)
                    for key, counts in e.shared.items()}
        failing = [line for status, line in verdicts.values() if status == "fail"]
        warning = [line for status, line in verdicts.values() if status == "warn"]
        if failing:
            return Verdict("fail", "held-out samples are copies of earlier splits' samples, beyond what the source's own "
                           f"repeats explain: {'; '.join(failing)}{_example_text(e)}", fix)
        if warning:
            return Verdict("warn", f"samples shared between splits: {'; '.join(warning)}{_example_text(e)}"
                           + (f"; {overlap.summary}" if overlap is not None else ""),
                           fix + "; when the source itself repeats samples (train has copies inside it too), decide "
                           "whether a repeated sample may be in both splits")
        if overlap is not None:
            return overlap
        if not verdicts:
            return Verdict("pass", "no sample is shared between splits, exactly or nearly" + _window_text(e))
        lines = "; ".join(line for _, line in verdicts.values())
        return Verdict("pass", f"no more sharing between splits than a random split of this source leaves ({lines})"
                       + _window_text(e))


def _shared(p: Profile, exact: tuple[np.ndarray, np.ndarray], near: tuple[np.ndarray, np.ndarray]) -> dict[str, Shared]:
    """Per "earlier-later" pair of splits with any sharing: the later split's samples with an exact copy, with a
    near one, and its size."""
    per_pair: dict[str, Shared] = {}
    held = {name: sp.read for name, sp in p.splits.items() if name != "train"}
    for kind, (a, b) in (("exact", exact), ("near", near)):
        for name_a, name_b, count in _count_pairs(p, a, b):
            key = f"{name_a}-{name_b}"
            entry = per_pair.setdefault(key, {"exact": 0, "near": 0, "size": held[key.split("-")[1]]})
            if kind == "exact":
                entry["exact"] = count
            else:
                entry["near"] = count
    return per_pair


def _judge_windows(e: SplitLeakageEvidence, t: SplitLeakageThresholds) -> Verdict | None:
    """Token windows: fail or warn when a held-out split's windows have both ends in train text; None otherwise."""
    judged = {k: v for k, v in e.windows.items() if v["tested"] >= t.min_windows}
    if not judged:
        return None
    name, worst = max(judged.items(), key=lambda kv: kv[1]["fraction"])
    text = (f"{worst['fraction']:.0%} of {name}'s {worst['tested']} token windows have both their first and last "
            f"{worst['span']} tokens in train text")
    fix = ("split the text first and cut windows inside each part (a contiguous split: train from the first 90% of "
           "the text, val from the rest); a random split of overlapping windows puts the val text into train")
    if worst["fraction"] >= t.overlap_fail:
        return Verdict("fail", f"{text}: overlapping windows split at random", fix)
    if worst["fraction"] >= t.overlap_warn:
        return Verdict("warn", text, fix)
    return None


def _judge_pair(key: str, counts: Shared, frac: Mapping[str, float], rates: Mapping[str, float],
                t: SplitLeakageThresholds) -> tuple[str, str]:
    """One (earlier, held-out) pair of splits: fail, warn or pass, with its line of evidence."""
    n = counts["size"]
    shared = frac["exact"] + frac["near"]
    line = (f"{key}: {counts['exact']} exact, {counts['near']} near ({shared:.1%} of {n}; train's own duplicates "
            f"predict {rates['any']:.1%})")
    exact_limit = max(t.exact_fail_fraction, t.fail_excess * rates["exact"] + _sigmas(t, rates["exact"], n))
    if frac["exact"] >= exact_limit and counts["exact"] >= t.fail_copies:
        return "fail", line
    beyond = shared > rates["any"] + _sigmas(t, rates["any"], n)
    repeated = counts["exact"] >= t.warn_copies and frac["exact"] >= rates["exact"] - _sigmas(t, rates["exact"], n)
    return ("warn" if beyond or repeated else "pass"), line


def _window_text(e: SplitLeakageEvidence) -> str:
    parts = [f"{k}: {v['fraction']:.1%} of windows overlap train text" for k, v in e.windows.items()]
    return f"; {', '.join(parts)}" if parts else ""


def _example_text(e: SplitLeakageEvidence) -> str:
    shown = e.exact_examples[:3]
    if not shown:
        return ""
    return "; e.g. " + ", ".join(f"{x['held_out']['split']}[{x['held_out']['index']}] = "
                                 f"{x['earlier']['split']}[{x['earlier']['index']}]" for x in shown)


def _sigmas(t: SplitLeakageThresholds, rate: float, n: int) -> float:
    return t.excess_sigmas * float(np.sqrt(rate * (1 - rate) / max(n, 1)))


def _exact_cross(p: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (earlier split's sample, later split's sample) with the same exact hash."""
    a, b = [], []
    for group in p.exact_groups():
        codes = p.split_of[group]
        if len(np.unique(codes)) < 2:
            continue
        for code in np.unique(codes)[1:]:
            anchor = group[codes < code]
            for member in group[codes == code]:
                a.append(anchor[0])
                b.append(member)
    return np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)


def _count_pairs(p: Profile, a: np.ndarray, b: np.ndarray) -> list[tuple[str, str, int]]:
    """How many distinct later-split samples are involved, per (earlier split, later split)."""
    out = []
    sa, sb = np.minimum(p.split_of[a], p.split_of[b]), np.maximum(p.split_of[a], p.split_of[b])
    later = np.where(p.split_of[a] > p.split_of[b], a, b)
    for x in np.unique(sa):
        for y in np.unique(sb[sa == x]):
            mask = (sa == x) & (sb == y)
            out.append((p.split_names[int(x)], p.split_names[int(y)], int(len(np.unique(later[mask])))))
    return out


def _train_duplicate_rates(p: Profile) -> dict[str, float]:
    """The share of train samples with an exact copy inside train, and with an exact or near copy."""
    size = p.splits["train"].read if "train" in p.splits else 0
    if size == 0:
        return {"exact": 0.0, "any": 0.0}
    exact = {int(i) for g in p.exact_groups() for i in g[p.split_of[g] == 0] if (p.split_of[g] == 0).sum() > 1}
    a, b = p.near_pairs()
    inside = (p.split_of[a] == 0) & (p.split_of[b] == 0)
    near = set(a[inside].tolist()) | set(b[inside].tolist())
    return {"exact": len(exact) / size, "any": len(exact | near) / size}


def _window_overlaps(p: Profile) -> dict[str, Windows]:
    out = {}
    for name in p.split_names[1:]:
        got = p.window_overlap(name)
        if got is None:
            continue
        rows = got.pop("rows")
        got["fraction"] = got["overlapping"] / max(got["tested"], 1)
        got["examples"] = [p.describe(int(i)) for i in rows[:LISTED]]
        out[name] = cast(Windows, got)
    return out


def _examples(p: Profile, earlier: np.ndarray, later: np.ndarray) -> list[dict[str, Any]]:
    """Shared samples named on both sides; for token sequences, their first tokens too."""
    out = []
    tokens = pictures(p, later[:5]) if p.data.kind == "text" else []
    for k, (i, j) in enumerate(zip(earlier[:LISTED], later[:LISTED], strict=False)):
        entry: dict[str, Any] = {"earlier": p.describe(int(i)), "held_out": p.describe(int(j))}
        if k < len(tokens) and tokens[k] is not None:
            length = int(p.properties["length"][int(j)]) if "length" in p.properties else SHOWN_TOKENS
            entry["tokens"] = np.asarray(tokens[k]).reshape(-1)[: min(length, SHOWN_TOKENS)].tolist()
        out.append(entry)
    return out
