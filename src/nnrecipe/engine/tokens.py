"""Token ids as text, with an experiment's vocabulary: for the report's decoded inputs and the error analysis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def decode(ids: Sequence[int] | np.ndarray, vocab: Any) -> str:
    """Token ids to text with the experiment's vocabulary (a string of characters, a list, or a dict either
    way round); ids without a vocabulary are shown as numbers."""
    if vocab is None:
        return " ".join(str(int(i)) for i in ids)
    if isinstance(vocab, Mapping):
        first = next(iter(vocab), None)
        lookup = {int(v): str(k) for k, v in vocab.items()} if isinstance(first, str) else {int(k): str(v) for k, v in vocab.items()}
        return "".join(lookup.get(int(i), "�") for i in ids)
    return "".join(str(vocab[int(i)]) if 0 <= int(i) < len(vocab) else "�" for i in ids)
