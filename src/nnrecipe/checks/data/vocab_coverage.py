"""vocab-coverage: token ids within the vocabulary, and held-out tokens that train has seen.

From the profile's token counts per split. An id at or above the vocabulary size crashes the embedding (or
silently wraps); val/test tokens that never occur in train can only be predicted by chance — a vocabulary
built on one split and applied to another, or splits from different sources.

Artifacts: ``counts`` {split: (V,) int array} for a token-frequency plot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnrecipe.checks.base import Check, Verdict
from nnrecipe.checks.context import CheckContext
from nnrecipe.checks.data.common import profile_of, task_of


@dataclass(frozen=True)
class VocabCoverageThresholds:
    #: warn / fail when this fraction of a held-out split's tokens never occur in train
    unseen_warn: float = 0.001
    unseen_fail: float = 0.05


class VocabCoverage(Check):
    """Token ids in range, and held-out tokens covered by train's vocabulary."""

    id = "vocab-coverage"
    stage = "data"
    title = "Vocabulary coverage between splits"
    Thresholds = VocabCoverageThresholds

    def applies(self, ctx: CheckContext) -> str | None:
        return None if task_of(ctx) == "sequence" else "only token sequences have a vocabulary"

    def measure(self, ctx: CheckContext) -> dict[str, Any]:
        p = profile_of(ctx)
        vocab = p.data.num_classes
        counts = {n: sp.token_counts for n, sp in p.splits.items() if sp.token_counts is not None}
        width = max(len(c) for c in counts.values())
        counts = {k: np.pad(v, (0, width - len(v))) for k, v in counts.items()}
        train = counts.get("train", np.zeros(width, int))
        unseen = {}
        for name, c in counts.items():
            if name == "train":
                continue
            missing = (c > 0) & (train == 0)
            unseen[name] = {"types": int(missing.sum()), "fraction": float(c[missing].sum() / max(c.sum(), 1)),
                            "examples": np.nonzero(missing)[0][:20].tolist()}
        out_of_range = int(sum(c[vocab:].sum() for c in counts.values())) if vocab else 0
        return {"vocab_size": vocab, "train_types": int((train > 0).sum()), "unseen_in_train": unseen,
                "out_of_range_tokens": out_of_range, "_artifacts": {"counts": counts}}

    def judge(self, m: Mapping[str, Any], t: VocabCoverageThresholds) -> Verdict:
        if m["out_of_range_tokens"]:
            return Verdict("fail", f"{m['out_of_range_tokens']} tokens have ids >= the vocabulary size {m['vocab_size']}",
                           "make num_classes the vocabulary size, or fix the tokenizer that produced larger ids")
        worst = max(m["unseen_in_train"].items(), key=lambda kv: kv[1]["fraction"], default=None)
        text = f"train uses {m['train_types']} of {m['vocab_size']} token ids"
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
