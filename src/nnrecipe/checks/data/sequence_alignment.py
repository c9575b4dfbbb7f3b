"""sequence-alignment: next-token targets must be the inputs shifted left by one position.

Counted over every sequence in the one pass: the fraction of positions where target[t] == input[t+1] (the
correct shift), target[t] == input[t] (the model may copy its input: nothing to learn) and
target[t+1] == input[t] (shifted the wrong way: the target is already in the input).

Positions whose target is the ignore index (padding after the end of a sequence, -1 or -100 in next-token
targets) are no positions: only t where target[t] and target[t+1] both carry a label count, so a padded batch
of short sequences reads exactly like the unpadded sequences.

Artifacts: ``fractions`` {shifted, copied, reversed}.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnrecipe.checks.base import DataCheck, Verdict, picture
from nnrecipe.checks.context import DataContext
from nnrecipe.checks.data.common import profile_of, task_of


@dataclass(frozen=True)
class SequenceAlignmentThresholds:
    #: pass when at least this fraction of positions hold the next input token as target
    aligned: float = 0.9
    #: fail when at least this fraction of positions copy the input (or the previous token) instead
    misaligned: float = 0.9


@dataclass(frozen=True)
class SequenceAlignmentEvidence:
    #: positions compared (both targets labelled), the target value left out (None: none), and the positions
    #: it left out
    positions: int
    ignore_index: int | None
    ignored_positions: int
    #: the share of positions with target[t] == input[t+1], target[t] == input[t], target[t+1] == input[t]
    shifted: float
    copied: float
    reversed: float
    #: the report's bars: the three shares, {shifted, copied, reversed}
    fractions: dict[str, float] | None = picture()


class SequenceAlignment(DataCheck[SequenceAlignmentEvidence, SequenceAlignmentThresholds]):
    """Targets are the inputs shifted by one token (next-token prediction)."""

    id = "sequence-alignment"
    stage = "data"
    title = "Next-token targets aligned with inputs"
    Thresholds = SequenceAlignmentThresholds

    def applies(self, ctx: DataContext) -> str | None:
        return None if task_of(ctx) == "sequence" else "only sequence tasks have next-token targets"

    def measure(self, ctx: DataContext) -> SequenceAlignmentEvidence:
        p = profile_of(ctx)
        totals = {"positions": 0, "shifted": 0, "copied": 0, "reversed": 0, "ignored": 0}
        for sp in p.splits.values():
            for key in totals:
                totals[key] += sp.alignment.get(key, 0)
        n = max(totals["positions"], 1)
        fractions = {k: totals[k] / n for k in ("shifted", "copied", "reversed")}
        return SequenceAlignmentEvidence(positions=totals["positions"], ignore_index=p.data.ignore_index,
                                         ignored_positions=totals["ignored"], shifted=fractions["shifted"],
                                         copied=fractions["copied"], reversed=fractions["reversed"],
                                         fractions=fractions)

    def judge(self, e: SequenceAlignmentEvidence, t: SequenceAlignmentThresholds) -> Verdict:
        text = (f"target[t] == input[t+1] at {e.shifted:.1%} of {e.positions} positions "
                f"(copies {e.copied:.1%}, wrong-way shift {e.reversed:.1%})")
        if e.ignored_positions:
            text += f"; {e.ignored_positions} padding positions (target {e.ignore_index}) left out"
        if e.positions == 0:
            return Verdict("skip", "no sequence longer than one token to compare")
        if e.shifted >= t.aligned:
            return Verdict("pass", text)
        if e.copied >= t.misaligned:
            return Verdict("fail", "targets equal the inputs: " + text,
                           "shift the targets: input = tokens[:-1], target = tokens[1:]")
        if e.reversed >= t.misaligned:
            return Verdict("fail", "targets are shifted the wrong way (the answer is in the input): " + text,
                           "input = tokens[:-1], target = tokens[1:] — not the other way round")
        return Verdict("warn", "targets are not the next input tokens: " + text,
                       "for next-token prediction use input = tokens[:-1], target = tokens[1:]; if this is another "
                       "sequence task, check the targets line up with the inputs")
