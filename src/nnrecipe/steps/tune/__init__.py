"""Step 5, tune: random search on Optuna around the configuration step 4 settled on.

"Random over grid search": each trial draws the learning rate and weight decay first (log-uniform), then the
knobs step 4 found to matter (augmentation, label smoothing, batch size and the experiment's own knobs: those
whose candidate moved the validation score by more than the noise margin, either way). The experiment's knobs
are categorical: a regularizer knob draws from its values and the factory's default, a capacity knob from its
settled value and the values next to it. The settled configuration itself is
trial 0, so the study always holds the incumbent, trained under the same budget. Each trial reports its validation score
every epoch and a trial far below the median of earlier trials at the same epoch is pruned.

The study lives in an Optuna storage: an SQLite file in the run folder by default (a killed tuning run
resumes: finished trials are kept, only the remainder runs), or any database URL, where several machines tune
one study together (`nnrecipe tune SPEC --storage postgresql://... --study NAME` on each). Workers send a
heartbeat; a worker that dies leaves its trial RUNNING until its heartbeat goes stale, then the next worker to
look marks it FAIL and queues it again with the same parameters and seed, and the study goes on.

Random draws depend only on (seed, trial number, parameter): trial numbers are unique across workers, so no
two workers repeat a configuration, and a study run by one worker or by five draws the same configurations.
The test split is never looked at here.

The modules: `space` (the search space as data), `findings` (what tune takes from step 4), `sampler` (draws,
pruner, budgets), `storage` (where a study lives), `study` (its definition, creating or joining it), `trial`
(one trial's training), `summary` (the report), `step` (step 5 in `nnrecipe run`), `workers` (`nnrecipe tune`).
This package re-exports their public names.
"""

from __future__ import annotations

from nnrecipe.steps.tune.findings import NOISE, regularize_rows, searchable, settled_in
from nnrecipe.steps.tune.sampler import (
    SAMPLERS,
    TUNE_BUDGETS,
    SamplerName,
    TrialSeededSampler,
    TuneBudget,
    make_pruner,
    make_sampler,
)
from nnrecipe.steps.tune.space import (
    DEFAULT_RANGES,
    KNOB,
    SEARCHABLE,
    Param,
    SearchRanges,
    StudyDefinition,
    applicable_knobs,
    search_space,
    settled_value,
    trial_config,
)
from nnrecipe.steps.tune.step import TunedTrial, TuneFindings, run_trials_alone, run_tune
from nnrecipe.steps.tune.storage import (
    DEFAULT_HEARTBEAT,
    SCHEMA_RACE_RETRIES,
    Heartbeat,
    default_storage,
    open_storage,
    quiet_optuna,
    redact,
    scrub,
)
from nnrecipe.steps.tune.study import FINISHED, Counts, count_trials, definition_for, open_study
from nnrecipe.steps.tune.summary import ReportSettings, best_so_far, importance, summarize, trials_table
from nnrecipe.steps.tune.trial import TrialRunner, saved_trial, study_folder
from nnrecipe.steps.tune.workers import (
    REPLACEMENTS_PER_WORKER,
    WorkerJob,
    run_trials,
    run_workers,
    study_result,
    worker_main,
)

__all__ = [
    "DEFAULT_HEARTBEAT", "DEFAULT_RANGES", "FINISHED", "KNOB", "NOISE", "REPLACEMENTS_PER_WORKER", "SAMPLERS", "SCHEMA_RACE_RETRIES", "SEARCHABLE",
    "TUNE_BUDGETS", "Counts", "Heartbeat", "Param", "ReportSettings", "SamplerName", "SearchRanges",
    "StudyDefinition", "TrialRunner", "TrialSeededSampler", "TuneBudget", "TunedTrial", "TuneFindings", "WorkerJob",
    "applicable_knobs", "best_so_far", "count_trials", "default_storage", "definition_for", "importance",
    "make_pruner", "make_sampler", "open_storage", "open_study", "quiet_optuna", "redact",
    "run_trials", "run_trials_alone", "run_tune", "run_workers", "saved_trial", "scrub", "search_space",
    "regularize_rows", "searchable", "settled_in", "settled_value", "study_folder", "study_result", "summarize", "trial_config", "trials_table",
    "worker_main",
]
