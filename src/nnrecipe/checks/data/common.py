"""What the data checks share: the profile, naming samples for evidence, and fetching a few pictures."""

from __future__ import annotations

from typing import Any, TypedDict

import numpy as np

from nnrecipe.audit.context import audit_context
from nnrecipe.audit.context import profile_of as _profile_of
from nnrecipe.audit.profile import Profile, inputs_of
from nnrecipe.checks.context import DataContext

#: at most this many offending samples are named in the evidence (counts are always exact)
LISTED = 20
#: at most this many pairs or extremes get pictures in the artifacts
PICTURED = 8

__all__ = ["LISTED", "PICTURED", "Pair", "Profile", "audit_context", "profile_of", "pictures", "pair_pictures",
           "task_of"]


class Pair(TypedDict):
    """Two samples side by side, for the report: each side's name (split, index, path), input and target."""

    a: dict[str, Any]
    b: dict[str, Any]
    a_input: Any
    b_input: Any
    a_target: Any
    b_target: Any


def profile_of(ctx: DataContext) -> Profile:
    """The streaming profile of the context's data, built on first use and shared by every data check."""
    profile: Profile = _profile_of(ctx)
    return profile


def task_of(ctx: DataContext) -> str:
    return audit_context(ctx).data.task


def pictures(profile: Profile, rows: list[int] | np.ndarray) -> list[Any]:
    """The inputs of the given profile rows (None where the source cannot seek), one random access each."""
    return inputs_of(profile, rows)


def pair_pictures(profile: Profile, a: np.ndarray, b: np.ndarray) -> list[Pair]:
    """Up to PICTURED pairs side by side: each side's sample, split/index/path and target."""
    pairs: list[Pair] = []
    for i, j in list(zip(a, b, strict=False))[:PICTURED]:
        left, right = pictures(profile, [int(i), int(j)])
        pairs.append({"a": profile.describe(int(i)), "b": profile.describe(int(j)), "a_input": left, "b_input": right,
                      "a_target": profile.target[int(i)].item(), "b_target": profile.target[int(j)].item()})
    return pairs
