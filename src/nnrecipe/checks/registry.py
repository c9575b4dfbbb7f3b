"""Every check, by id, in recipe order. A new check is its file plus one line here."""

from __future__ import annotations

from nnrecipe.checks.base import Check
from nnrecipe.checks.data.class_balance import ClassBalance
from nnrecipe.checks.data.corrupt import Corrupt
from nnrecipe.checks.data.duplicates import Duplicates
from nnrecipe.checks.data.input_stats import InputStats
from nnrecipe.checks.data.label_conflicts import LabelConflicts
from nnrecipe.checks.data.label_issues import LabelIssues
from nnrecipe.checks.data.near_duplicates import NearDuplicates
from nnrecipe.checks.data.outliers import Outliers
from nnrecipe.checks.data.sequence_alignment import SequenceAlignment
from nnrecipe.checks.data.split_leakage import SplitLeakage
from nnrecipe.checks.data.target_leakage import TargetLeakage
from nnrecipe.checks.data.vocab_coverage import VocabCoverage
from nnrecipe.checks.skeleton.init_loss import InitLoss
from nnrecipe.checks.skeleton.loss_decreases import LossDecreases
from nnrecipe.checks.skeleton.overfit_one_batch import OverfitOneBatch

CHECKS: dict[str, type[Check]] = {
    # step 1: become one with the data
    Corrupt.id: Corrupt,
    ClassBalance.id: ClassBalance,
    Duplicates.id: Duplicates,
    SplitLeakage.id: SplitLeakage,
    NearDuplicates.id: NearDuplicates,
    LabelConflicts.id: LabelConflicts,
    InputStats.id: InputStats,
    Outliers.id: Outliers,
    LabelIssues.id: LabelIssues,
    TargetLeakage.id: TargetLeakage,
    SequenceAlignment.id: SequenceAlignment,
    VocabCoverage.id: VocabCoverage,
    # step 2: end-to-end skeleton and dumb baselines
    InitLoss.id: InitLoss,
    OverfitOneBatch.id: OverfitOneBatch,
    LossDecreases.id: LossDecreases,
}
