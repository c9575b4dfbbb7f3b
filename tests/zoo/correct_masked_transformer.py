"""A transformer with its causal mask (the twin of the unmasked one)."""

from __future__ import annotations

import _zoo

EXPECT = 'clean'


def experiment():
    return _zoo.experiment("masked-transformer", "sequence", _zoo.chars(), _zoo.CharTransformer)
