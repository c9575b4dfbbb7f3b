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
from nnrecipe.checks.skeleton.augment_consistency import AugmentConsistency
from nnrecipe.checks.skeleton.batch_independence import BatchIndependence
from nnrecipe.checks.skeleton.capacity import Capacity
from nnrecipe.checks.skeleton.causal import Causal
from nnrecipe.checks.skeleton.dumb_baselines import DumbBaselines
from nnrecipe.checks.skeleton.eval_determinism import EvalDeterminism
from nnrecipe.checks.skeleton.gradient_health import GradientHealth
from nnrecipe.checks.skeleton.human_baseline import HumanBaseline
from nnrecipe.checks.skeleton.init_bias import InitBias
from nnrecipe.checks.skeleton.init_loss import InitLoss
from nnrecipe.checks.skeleton.input_independent import InputIndependent
from nnrecipe.checks.skeleton.loss_decreases import LossDecreases
from nnrecipe.checks.skeleton.loss_pairing import LossPairing
from nnrecipe.checks.skeleton.lr_schedule import LrSchedule
from nnrecipe.checks.skeleton.output_shape import OutputShape
from nnrecipe.checks.skeleton.overfit_one_batch import OverfitOneBatch
from nnrecipe.checks.skeleton.params_update import ParamsUpdate
from nnrecipe.checks.skeleton.reproducible import Reproducible
from nnrecipe.checks.skeleton.step_matches_reference import StepMatchesReference
from nnrecipe.checks.skeleton.target_alignment import TargetAlignment

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
    InitBias.id: InitBias,
    OutputShape.id: OutputShape,
    LossPairing.id: LossPairing,
    BatchIndependence.id: BatchIndependence,
    Causal.id: Causal,
    TargetAlignment.id: TargetAlignment,
    EvalDeterminism.id: EvalDeterminism,
    OverfitOneBatch.id: OverfitOneBatch,
    LossDecreases.id: LossDecreases,
    ParamsUpdate.id: ParamsUpdate,
    StepMatchesReference.id: StepMatchesReference,
    LrSchedule.id: LrSchedule,
    Reproducible.id: Reproducible,
    InputIndependent.id: InputIndependent,
    DumbBaselines.id: DumbBaselines,
    AugmentConsistency.id: AugmentConsistency,
    Capacity.id: Capacity,
    GradientHealth.id: GradientHealth,
    HumanBaseline.id: HumanBaseline,
}
