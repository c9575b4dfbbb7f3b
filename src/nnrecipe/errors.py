"""The small exception hierarchy that every user-facing failure goes through.

The CLI turns any `NnrecipeError` into a one-paragraph message and exit code 2, with no traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class NnrecipeError(Exception):
    """Base class of every error nnrecipe raises on purpose."""


class SpecError(NnrecipeError):
    """The experiment spec (file, built-in name or `Experiment` fields) is wrong."""


class DataError(NnrecipeError):
    """The data cannot be read or does not have the shape the task needs."""


class UsageError(NnrecipeError):
    """The command line or an API call was used wrongly."""


def did_you_mean(given: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when a close choice exists, else ''."""
    close = difflib.get_close_matches(given, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
