"""vocab-coverage: token ids within the vocabulary, and held-out tokens that train has seen.

From the profile's token counts per split. An id at or above the vocabulary size crashes the embedding (or
silently wraps); val/test tokens that never occur in train can only be predicted by chance — a vocabulary
built on one split and applied to another, or splits from different sources.

Artifacts: ``counts`` {split: (V,) int array} for a token-frequency plot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from nnrecipe.checks.base import DataCheck, Verdict, picture
from nnrecipe.checks.context import DataContext
from nnrecipe.checks.data.common import profile_of, task_of


@dataclass(frozen=True)
class VocabCoverageThresholds:
    #: warn / fail when this fraction of a held-out split's tokens never occur in train
    unseen_warn: float = 0.001
    unseen_fail: float = 0.05


class Unseen(TypedDict):
    """A held-out split's token ids that never occur in train: how many ids, their share of the split's tokens,
    and up to 20 of them."""

    types: int
    fraction: float
    examples: list[int]


@dataclass(frozen=True)
class VocabCoverageEvidence:
    #: the vocabulary size (num_classes; None when unknown) and the distinct ids train uses
    vocab_size: int | None
    train_types: int
    unseen_in_train: dict[str, Unseen]
    #: tokens, in every split, with an id >= the vocabulary size
    out_of_range_tokens: int
    #: the report's token-frequency plot: (V,) int array per split
    counts: dict[str, np.ndarray] | None = picture()


class VocabCoverage(DataCheck[VocabCoverageEvidence, VocabCoverageThresholds]):
    """Token ids in range, and held-out tokens covered by train's vocabulary."""

    id = "vocab-coverage"
    stage = "data"
    title = "Vocabulary coverage between splits"
    Thresholds = VocabCoverageThresholds

    def applies(self, ctx: DataContext) -> str | None:
        return None if task_of(ctx) == "sequence" else "only token sequences have a vocabulary"

    def measure(self, ctx: DataContext) -> VocabCoverageEvidence:
        p = profile_of(ctx)
        vocab = p.data.num_classes
        counts = {n: sp.token_counts for n, sp in p.splits.items() if sp.token_counts is not None}
        width = max(len(c) for c in counts.values())
        counts = {k: np.pad(v, (0, width - len(v))) for k, v in counts.items()}
        train = counts.get("train", np.zeros(width, int))
        unseen: dict[str, Unseen] = {}
        for name, c in counts.items():
            if name == "train":
                continue
            missing = (c > 0) & (train == 0)
            unseen[name] = {"types": int(missing.sum()), "fraction": float(c[missing].sum() / max(c.sum(), 1)),
                            "examples": np.nonzero(missing)[0][:20].tolist()}
        out_of_range = int(sum(c[vocab:].sum() for c in counts.values())) if vocab else 0
        return VocabCoverageEvidence(vocab_size=vocab, train_types=int((train > 0).sum()), unseen_in_train=unseen,
                                     out_of_range_tokens=out_of_range, counts=counts)

    def judge(self, e: VocabCoverageEvidence, t: VocabCoverageThresholds) -> Verdict:
        if e.out_of_range_tokens:
            return Verdict("fail", f"{e.out_of_range_tokens} tokens have ids >= the vocabulary size {e.vocab_size}",
                           "make num_classes the vocabulary size, or fix the tokenizer that produced larger ids")
        worst = max(e.unseen_in_train.items(), key=lambda kv: kv[1]["fraction"], default=None)
        text = f"train uses {e.train_types} of {e.vocab_size} token ids"
        if worst is None:
            return Verdict("pass", text)
        name, u = worst
        detail = f"{u['fraction']:.2%} of {name} tokens ({u['types']} ids, e.g. {u['examples'][:5]}) never occur in train"
        fix = "build the vocabulary and the splits from the same source, and make sure train covers it"
        if u["fraction"] >= t.unseen_fail:
            return Verdict("fail", f"{detail}; {text}", fix)
        if u["fraction"] >= t.unseen_warn:
            return Verdict("warn", f"{detail}; {text}", fix)
        return Verdict("pass", f"{text}; {detail}")
