"""One study: the definition a run tunes (step 4's findings decide the knobs), creating the study with trial 0
queued or joining it, and counting what it holds."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import optuna
from optuna.trial import TrialState

from nnrecipe import knobs
from nnrecipe.experiment import Experiment
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.training import selection_metric
from nnrecipe.steps.tune.findings import searchable
from nnrecipe.steps.tune.sampler import TuneBudget, make_ordered_pruner, make_pruner, make_sampler
from nnrecipe.steps.tune.space import (
    DEFAULT_RANGES,
    KNOB,
    SearchRanges,
    StudyDefinition,
    applicable_knobs,
    search_space,
    settled_value,
)
from nnrecipe.steps.tune.storage import quiet_optuna

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def definition_for(exp: Experiment, base: TrainingConfig, *, seed: int, mattered: Mapping[str, str] | None,
                   ranges: SearchRanges = DEFAULT_RANGES) -> StudyDefinition:
    """The study a run tunes: what step 4 found to matter decides the knobs (`RegularizeFindings.mattered`);
    without step 4's findings, every knob that applies."""
    metric, higher = selection_metric(exp)
    wanted = searchable(mattered) if mattered is not None else applicable_knobs(exp)
    declared = knobs.declared(exp)
    searched = [k for k in declared if KNOB + k.name in wanted]
    # trial 0 is the settled configuration: each searched knob it leaves at the factory's default says so
    settled = {k.name: k.default for k in searched if k.known_default and k.name not in base.knobs}
    base = base.replace(knobs={**base.knobs, **settled}) if settled else base
    return StudyDefinition(base=base, space=tuple(search_space(base, wanted, declared=declared, ranges=ranges)),
                           metric=metric, higher_is_better=higher, seed=seed)


def open_study(storage: optuna.storages.BaseStorage, name: str, definition: StudyDefinition, *,
               sampler: str = "random", budget: TuneBudget, ordered: bool = False) -> tuple[optuna.Study, StudyDefinition]:
    """Create the study (storing its definition and queueing the settled configuration as trial 0) or join it.

    Joining a study keeps its stored definition: the worker that created it decided the space. `ordered`:
    each trial is pruned against earlier trials only (`nnrecipe run`'s study, whose trials are reproducible).
    """
    direction: Literal["maximize", "minimize"] = "maximize" if definition.higher_is_better else "minimize"
    pruner = (make_ordered_pruner if ordered else make_pruner)(budget, epochs=definition.base.epochs)
    made = make_sampler(sampler, seed=definition.seed)
    with quiet_optuna():
        try:
            study = optuna.create_study(storage=storage, study_name=name, direction=direction, sampler=made,
                                        pruner=pruner)
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(storage=storage, study_name=name, sampler=made, pruner=pruner)
            return study, _stored_definition(study, definition)
        _store_definition(study, definition)
    return study, definition


def _store_definition(study: optuna.Study, definition: StudyDefinition) -> None:
    """A new study's definition in its attributes, and the settled configuration queued as trial 0."""
    for key, value in definition.to_attrs().items():
        study.set_user_attr(key, value)
    study.enqueue_trial({p.name: p.clip(settled_value(definition.base, p.name)) for p in definition.space},
                        user_attrs={"incumbent": True})


def _stored_definition(study: optuna.Study, fallback: StudyDefinition) -> StudyDefinition:
    # a worker may join between the study's creation and its definition being stored: wait a moment for it
    for _ in range(50):
        attrs = study.user_attrs
        if "space" in attrs:
            return StudyDefinition.from_attrs(attrs)
        time.sleep(0.1)
    return fallback


@dataclass(frozen=True)
class Counts:
    finished: int
    running: int
    failed: int


def count_trials(study: optuna.Study) -> Counts:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return Counts(finished=sum(s in FINISHED for s in states), running=states.count(TrialState.RUNNING),
                  failed=states.count(TrialState.FAIL))
