"""A transformer without its causal mask predicting the next token."""

from __future__ import annotations

import _zoo

EXPECT = {'fail': ['causal']}


def experiment():
    return _zoo.experiment("unmasked-transformer", "sequence", _zoo.chars(),
                           lambda: _zoo.CharTransformer(causal=False))
