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
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import optuna
import torch
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from nnrecipe import knobs
from nnrecipe.engine.checkpoint import UnreadableFile, load_checkpoint, save_checkpoint, set_aside
from nnrecipe.engine.loop import Callback, EpochRecord
from nnrecipe.engine.seeding import derive_seed
from nnrecipe.errors import UsageError, did_you_mean
from nnrecipe.experiment import Experiment
from nnrecipe.progress import Progress
from nnrecipe.results import StepResult
from nnrecipe.steps.config import TrainingConfig
from nnrecipe.steps.regularize import RegularizeThresholds, improves
from nnrecipe.steps.state import RunState
from nnrecipe.steps.training import (
    build_model,
    has_augmentation,
    label_smoothing_applies,
    selection_metric,
    train_config,
)

#: step 4's noise margin: a change smaller than this did not move the validation score
NOISE = RegularizeThresholds()
SamplerName = Literal["random", "tpe"]
SAMPLERS: tuple[SamplerName, ...] = ("random", "tpe")
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True, kw_only=True)
class TuneBudget:
    """How much tuning `--budget quick|default|long` allows."""

    #: finished (complete or pruned) trials in the study
    trials: int
    #: most epochs one trial trains (the settled configuration's own epochs when fewer)
    max_epochs: int
    #: trials that finish before the pruner may stop any
    startup_trials: int = 3
    #: epochs every trial trains before it may be pruned, as a fraction of its epochs. A one-cycle schedule
    #: peaks at 30% of training, where validation scores are at their noisiest and regularized trials
    #: (augmentation, label smoothing) trail the others before they catch up: they are judged once it anneals.
    warmup_fraction: float = 0.5


TUNE_BUDGETS: dict[str, TuneBudget] = {
    "quick": TuneBudget(trials=3, max_epochs=30, startup_trials=2),
    "default": TuneBudget(trials=8, max_epochs=60),
    "long": TuneBudget(trials=24, max_epochs=150, startup_trials=5),
}


@dataclass(frozen=True, kw_only=True)
class SearchRanges:
    """Where random search looks, relative to the settled configuration."""

    #: learning rate drawn log-uniformly in [lr / lr_span, lr * lr_span]
    lr_span: float = 10.0
    #: weight decay (decoupled, AdamW) drawn log-uniformly in this range; log-uniform cannot reach 0, and
    #: 1e-5 is as good as none for these models
    weight_decay: tuple[float, float] = (1e-5, 0.3)
    #: label smoothing drawn uniformly in [0, label_smoothing_max]
    label_smoothing_max: float = 0.2
    #: a capacity knob draws from its settled value and this many of its values on either side (a model many
    #: times larger than the one that fit is another study, and would cost the study most of its time)
    capacity_steps: int = 1


# -- the search space, as plain data (stored in the study so every worker draws from the same one)


@dataclass(frozen=True)
class Param:
    """One dimension of the space: a `TrainingConfig` field and how it is drawn."""

    name: str
    kind: Literal["log", "uniform", "choice"]
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()
    #: why it is in the space (shown in the report)
    reason: str = ""

    def distribution(self) -> BaseDistribution:
        if self.kind == "choice":
            return CategoricalDistribution(self.choices)
        return FloatDistribution(self.low, self.high, log=self.kind == "log")

    def clip(self, value: Any) -> Any:
        """A value of the settled configuration, moved inside the range (trial 0 must be a valid draw)."""
        if self.kind == "choice":
            return value if value in self.choices else self.choices[0]
        return min(max(float(value), self.low), self.high)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "low": self.low, "high": self.high,
                "choices": list(self.choices), "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Param:
        return cls(name=data["name"], kind=data["kind"], low=data["low"], high=data["high"],
                   choices=tuple(data["choices"]), reason=data.get("reason", ""))


#: step 4's candidate -> the TrainingConfig field it varies, for tables written before each row said so ("varies")
KNOBS = {"augment": "augment", "label-smoothing": "label_smoothing", "smaller-batch": "batch_size"}
#: what the search space can vary besides lr and weight decay: these fields, and `knob:NAME` for the experiment's knobs
SEARCHABLE = ("augment", "label_smoothing", "batch_size")
KNOB = "knob:"


def knobs_that_matter(tried: list[Mapping[str, Any]], *, metric: str, higher_is_better: bool,
                      thresholds: RegularizeThresholds = NOISE) -> dict[str, str]:
    """What step-4 candidates varied when they moved the validation score past the noise margin, either way, with
    why: configuration fields and `knob:NAME` for the experiment's own knobs.

    Each candidate was measured against the best configuration at the time it ran: the baseline, or the last
    candidate that was kept.
    """
    key = f"val_{metric}"
    best: float | None = None
    found: dict[str, str] = {}
    for row in tried:
        value = row.get(key)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        if best is None:  # the baseline
            best = float(value)
            continue
        name = str(row.get("change", "")).removesuffix(" (one-cycle)")  # a re-test under the final schedule counts
        moved = (improves(value, best, higher_is_better=higher_is_better, thresholds=thresholds)
                 or improves(best, value, higher_is_better=higher_is_better, thresholds=thresholds))
        varies = row.get("varies", [KNOBS[name]] if name in KNOBS else [])
        for field_name in varies if moved else ():
            if field_name in SEARCHABLE or str(field_name).startswith(KNOB):
                found.setdefault(field_name, f"step 4: {name} moved val {metric} {best:.4g} -> {value:.4g}")
        if row.get("kept"):
            best = float(value)
    return found


def applicable_knobs(exp: Experiment) -> dict[str, str]:
    """Every knob the experiment supports, for tuning without step 4's findings."""
    found = {}
    if has_augmentation(exp):
        found["augment"] = "the experiment has an augmentation"
    if label_smoothing_applies(exp) is None:
        found["label_smoothing"] = "the experiment trains with the standard cross-entropy"
    for knob in knobs.declared(exp):
        found[KNOB + knob.name] = f"the experiment declares it in {knob.role}"
    found["batch_size"] = "always applies"
    return found


def search_space(base: TrainingConfig, wanted: Mapping[str, str], *, declared: Sequence[knobs.Knob] = (),
                 ranges: SearchRanges = SearchRanges()) -> list[Param]:
    """Learning rate and weight decay first, then the wanted knobs (name -> reason): augmentation, the
    regularizer knobs, label smoothing, the capacity knobs, the batch size."""
    space = [Param("lr", "log", base.lr / ranges.lr_span, base.lr * ranges.lr_span, reason="always first"),
             Param("weight_decay", "log", *ranges.weight_decay, reason="always first")]
    if "augment" in wanted:
        space.append(Param("augment", "choice", choices=(False, True), reason=wanted["augment"]))
    for knob in (k for k in declared if k.role == "regularizers" and KNOB + k.name in wanted):
        space.append(Param(KNOB + knob.name, "choice", choices=knob.choices(), reason=wanted[KNOB + knob.name]))
    if "label_smoothing" in wanted:
        space.append(Param("label_smoothing", "uniform", 0.0, ranges.label_smoothing_max,
                           reason=wanted["label_smoothing"]))
    for knob in (k for k in declared if k.role == "capacity" and KNOB + k.name in wanted):
        choices = _neighbours(knob, base.knobs.get(knob.name, knob.start), ranges.capacity_steps)
        space.append(Param(KNOB + knob.name, "choice", choices=choices, reason=wanted[KNOB + knob.name]))
    if "batch_size" in wanted:
        b = base.batch_size
        space.append(Param("batch_size", "choice", choices=tuple(sorted({max(1, b // 2), b, b * 2})),
                           reason=wanted["batch_size"]))
    return space


def _neighbours(knob: knobs.Knob, value: Any, steps: int) -> tuple[Any, ...]:
    """`value` and up to `steps` of the knob's values on either side of it, smallest first."""
    below: list[Any] = []
    above: list[Any] = []
    low = high = value
    for _ in range(steps):
        low = knob.down(low) if low is not None else None
        high = knob.up(high) if high is not None else None
        below += [] if low is None else [low]
        above += [] if high is None else [high]
    return (*reversed(below), value, *above)


def trial_config(base: TrainingConfig, params: Mapping[str, Any]) -> TrainingConfig:
    """The base configuration with a trial's draws: `knob:NAME` draws go into its knobs."""
    fields = {k: v for k, v in params.items() if not k.startswith(KNOB)}
    drawn = {k.removeprefix(KNOB): v for k, v in params.items() if k.startswith(KNOB)}
    return base.replace(**fields, knobs={**base.knobs, **drawn}) if drawn else base.replace(**fields)


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """Random search whose every draw depends only on (seed, trial number, parameter name).

    Optuna's own RandomSampler keeps one stream per process: a resumed run, or a second worker started with
    the same seed, would draw the same configurations again. Trial numbers are unique within a study, so
    these draws never repeat and do not depend on which worker runs which trial.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        rng = np.random.default_rng(derive_seed(self.seed, "tune", trial.number, param_name))
        dist = param_distribution
        if isinstance(dist, CategoricalDistribution):
            return dist.choices[int(rng.integers(len(dist.choices)))]
        if isinstance(dist, (FloatDistribution, IntDistribution)):
            low, high = float(dist.low), float(dist.high)
            value = math.exp(rng.uniform(math.log(low), math.log(high))) if dist.log else rng.uniform(low, high)
            return int(round(value)) if isinstance(dist, IntDistribution) else float(value)
        raise TypeError(f"unsupported distribution {dist!r}")


def make_sampler(name: str, *, seed: int) -> optuna.samplers.BaseSampler:
    if name not in SAMPLERS:
        raise UsageError(f"sampler: expected one of {SAMPLERS}, but got {name!r}{did_you_mean(name, SAMPLERS)}")
    if name == "random":
        return TrialSeededSampler(seed)
    # TPE keeps a stream per process; a per-process seed keeps parallel workers from drawing the same startup
    # trials (TPE's proposals depend on which trials have finished anyway, so they are not reproducible).
    return optuna.samplers.TPESampler(seed=derive_seed(seed, "tpe", socket.gethostname(), os.getpid()))


# -- storage and study


@dataclass(frozen=True, kw_only=True)
class Heartbeat:
    """How workers show they are alive: a trial whose worker is silent for `grace` seconds is failed and retried."""

    interval: int = 10
    grace: int = 30
    #: times a failed trial is queued again with the same parameters and seed
    max_retry: int = 1


def default_storage(folder: Path | None) -> str | None:
    """The run folder's SQLite file, or None (in memory) when the run keeps no folder."""
    if folder is None:
        return None
    path = folder / "tune" / "study.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


def open_storage(url: str | None, *, heartbeat: Heartbeat | None = Heartbeat()) -> optuna.storages.BaseStorage:
    """An in-memory storage (url None), or a database; with `heartbeat`, the trials of dead workers are failed
    and queued again (None: for a study one process works on alone)."""
    if url is None:
        return optuna.storages.InMemoryStorage()
    storages = optuna.storages
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heartbeats are marked experimental; we rely on them on purpose
        retry_new = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)  # optuna >= 4.9 renamed it
        kwargs: dict[str, Any]
        if heartbeat is None:
            kwargs = {}
        elif retry_new is not None:
            kwargs = {"heartbeat_stale_trial_callback": retry_new(max_retry=heartbeat.max_retry)}
        else:
            kwargs = {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=heartbeat.max_retry)}
        if heartbeat is not None:
            kwargs.update(heartbeat_interval=heartbeat.interval, grace_period=heartbeat.grace)
        try:
            return _open_rdb(url, engine_kwargs, kwargs)
        except ImportError as exc:
            raise UsageError(f"storage {redact(url)!r}: the database driver is not installed "
                             f"({scrub(str(exc), url)}); for PostgreSQL install psycopg2-binary") from None
        except Exception as exc:  # sqlalchemy's URL and connection errors: a usage error, not a traceback
            raise UsageError(f"storage {redact(url)!r}: cannot open it: {scrub(str(exc), url)}") from None


#: workers that start together on a new database race to create its schema; the losers retry
SCHEMA_RACE_RETRIES = 8


def _open_rdb(url: str, engine_kwargs: dict[str, Any], kwargs: dict[str, Any]) -> optuna.storages.BaseStorage:
    """RDBStorage, retried while another process is creating the same schema: PostgreSQL reports the loser's
    CREATE TYPE / CREATE TABLE as a duplicate (two workers started at once on a fresh database), SQLite the
    loser's alembic_version row as a UNIQUE violation (a reader opening a study file its worker is creating)."""
    for attempt in range(SCHEMA_RACE_RETRIES):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        except Exception as exc:
            text = str(exc)
            racing = any(sign in text for sign in ("already exists", "duplicate key", "UNIQUE constraint failed"))
            if not racing or attempt == SCHEMA_RACE_RETRIES - 1:
                raise
            time.sleep(0.25 * (attempt + 1))
    raise AssertionError("unreachable")


def redact(url: str) -> str:
    """The URL with every secret it may carry masked, for errors and reports: the password of `user:pass@host`
    (with or without a scheme) and `password=`/`token=`-like query parameters."""
    import re

    masked = re.sub(r"^((?:[A-Za-z][\w+.-]*://)?[^/@:?#]*):[^@/?#]*@", r"\1:***@", url)
    return re.sub(r"(?i)([?&;](?:password|passwd|pwd|pass|secret|token|api_key|apikey|key)=)[^&;#]*", r"\1***", masked)


def scrub(text: str, url: str) -> str:
    """`text` (an exception's message, say) with the URL, and its password wherever it appears, masked."""
    import re

    text = text.replace(url, redact(url))
    for secret in re.findall(r"^(?:[A-Za-z][\w+.-]*://)?[^/@:?#]*:([^@/?#]+)@", url) + re.findall(
            r"(?i)[?&;](?:password|passwd|pwd|pass|secret|token|api_key|apikey|key)=([^&;#]+)", url):
        text = text.replace(secret, "***")
    return text


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna logs every trial; library code never prints, so quiet it for the block and put it back."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


@dataclass(frozen=True)
class StudyDefinition:
    """What every worker of one study must agree on; the first worker stores it in the study."""

    base: TrainingConfig
    space: tuple[Param, ...]
    metric: str
    higher_is_better: bool
    seed: int

    def to_attrs(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "space": [p.to_dict() for p in self.space], "metric": self.metric,
                "higher_is_better": self.higher_is_better, "seed": self.seed}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> StudyDefinition:
        return cls(base=TrainingConfig.from_dict(attrs["base"]), space=tuple(Param.from_dict(p) for p in attrs["space"]),
                   metric=attrs["metric"], higher_is_better=attrs["higher_is_better"], seed=attrs["seed"])


def open_study(storage: optuna.storages.BaseStorage, name: str, definition: StudyDefinition, *,
               sampler: str = "random", budget: TuneBudget) -> tuple[optuna.Study, StudyDefinition]:
    """Create the study (storing its definition and queueing the settled configuration as trial 0) or join it.

    Joining a study keeps its stored definition: the worker that created it decided the space.
    """
    direction: Literal["maximize", "minimize"] = "maximize" if definition.higher_is_better else "minimize"
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=budget.startup_trials,
        n_warmup_steps=max(1, int(budget.warmup_fraction * min(definition.base.epochs, budget.max_epochs))))
    made = make_sampler(sampler, seed=definition.seed)
    with quiet_optuna():
        try:
            study = optuna.create_study(storage=storage, study_name=name, direction=direction, sampler=made,
                                        pruner=pruner)
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(storage=storage, study_name=name, sampler=made, pruner=pruner)
            return study, _stored_definition(study, definition)
        for key, value in definition.to_attrs().items():
            study.set_user_attr(key, value)
        study.enqueue_trial({p.name: p.clip(_settled_value(definition.base, p.name)) for p in definition.space},
                            user_attrs={"incumbent": True})
    return study, definition


def _settled_value(base: TrainingConfig, name: str) -> Any:
    if name.startswith(KNOB):
        return base.knobs.get(name.removeprefix(KNOB))
    return getattr(base, name)


def _stored_definition(study: optuna.Study, fallback: StudyDefinition) -> StudyDefinition:
    # a worker may join between the study's creation and its definition being stored: wait a moment for it
    for _ in range(50):
        attrs = study.user_attrs
        if "space" in attrs:
            return StudyDefinition.from_attrs(attrs)
        time.sleep(0.1)
    return fallback


# -- one trial


class _ReportToTrial(Callback):
    """Reports the validation score every epoch; stops training when the pruner says the trial is hopeless."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric = trial, metric
        self.pruned_at: int | None = None
        self.diverged = False

    def on_epoch_end(self, record: EpochRecord, model: torch.nn.Module) -> bool:
        value = record.val.get(self.metric, math.nan)
        if not math.isfinite(value) or not math.isfinite(record.train_loss):
            self.diverged = True
            return True
        self.trial.report(value, record.epoch)
        if self.trial.should_prune():
            self.pruned_at = record.epoch
            return True
        return False


@dataclass
class TrialRunner:
    """The objective: trains one trial's configuration and keeps the trial's best weights.

    With a `folder` (the study's own folder in the run folder), every completed trial's weights, config and
    seed go to `trial-NNNN.pt` and the trial in progress checkpoints every epoch, so a trial taken over after
    a crash continues from its last epoch; without one, the weights stay in `in_memory`.
    """

    exp: Experiment
    definition: StudyDefinition
    epochs: int
    device: torch.device
    folder: Path | None
    progress: Progress = field(default_factory=Progress)
    in_memory: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __call__(self, trial: optuna.Trial) -> float:
        d = self.definition
        params = {p.name: _suggest(trial, p) for p in d.space}
        cfg = trial_config(d.base, params).replace(epochs=min(d.base.epochs, self.epochs))
        # a trial queued again after its worker died inherits its user attributes, so it replays the same seed
        seed = int(trial.user_attrs.get("seed", derive_seed(d.seed, "trial", trial.number)))
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("config", cfg.to_dict())
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        reporter = _ReportToTrial(trial, d.metric)
        callbacks: list[Callback] = [reporter]
        shown = self.progress.training(f"trial {trial.number}: {cfg.describe()}", cfg.epochs)
        if shown is not None:
            callbacks.append(shown)
        partial = None if self.folder is None else self.folder / f"partial-{trial.number:04d}.pt"
        trained = train_config(self.exp, cfg, device=self.device, seed=seed, callbacks=callbacks, checkpoint=partial)
        trial.set_user_attr("epochs_run", trained.epochs_run)
        if reporter.diverged:
            trial.set_user_attr("note", "diverged")
            raise optuna.TrialPruned("diverged")
        if reporter.pruned_at is not None:
            trial.set_user_attr("note", f"pruned at epoch {reporter.pruned_at}")
            raise optuna.TrialPruned(f"pruned at epoch {reporter.pruned_at}")
        trial.set_user_attr("best_epoch", trained.best_epoch)
        trial.set_user_attr("val", trained.val)
        self._keep(trial.number, cfg, seed, trained.model.state_dict())
        if partial is not None:
            partial.unlink(missing_ok=True)
        return float(trained.val[d.metric])

    def _keep(self, number: int, cfg: TrainingConfig, seed: int, state_dict: dict[str, Any]) -> None:
        saved = {"config": cfg.to_dict(), "seed": seed, "model": state_dict}
        if self.folder is None:
            self.in_memory[number] = saved
        else:
            save_checkpoint(self.folder / f"trial-{number:04d}.pt", **saved)


def _suggest(trial: optuna.Trial, p: Param) -> Any:
    if p.kind == "choice":
        return trial.suggest_categorical(p.name, list(p.choices))
    return trial.suggest_float(p.name, p.low, p.high, log=p.kind == "log")


def study_folder(run_folder: Path | None, study: str) -> Path | None:
    """Where a study's trials keep their weights inside a run folder (one folder per study)."""
    return None if run_folder is None else run_folder / "tune" / study


def saved_trial(folder: Path | None, number: int, in_memory: Mapping[int, Any] | None = None) -> dict[str, Any] | None:
    """A completed trial's kept weights, config and seed, when this machine has them."""
    if in_memory is not None and number in in_memory:
        return dict(in_memory[number])
    if folder is None:
        return None
    path = folder / f"trial-{number:04d}.pt"
    if not path.exists():
        return None
    try:
        return load_checkpoint(path)
    except UnreadableFile:
        set_aside(path)  # never loaded: this machine no longer has the trial's weights
        return None


# -- a worker: pull trials until the study holds enough finished ones


@dataclass(frozen=True)
class Counts:
    finished: int
    running: int
    failed: int


def count_trials(study: optuna.Study) -> Counts:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return Counts(finished=sum(s in FINISHED for s in states), running=states.count(TrialState.RUNNING),
                  failed=states.count(TrialState.FAIL))


def run_trials(study: optuna.Study, objective: Callable[[optuna.Trial], float], *, trials: int,
               heartbeat: Heartbeat = Heartbeat(), max_failures: int | None = None) -> int:
    """Run trials until the study holds `trials` finished (complete or pruned) ones; the number this worker ran.

    Before each trial, stale trials (of workers whose heartbeat stopped) are failed and queued again. When the
    trials still missing are all running on other workers, this worker waits for them rather than start
    extra ones, and takes over any whose worker dies. A trial that raises is recorded as failed (its error in
    the trial's `fail_reason`); after `max_failures` such trials (default: `trials`) this worker gives up.
    """
    max_failures = trials if max_failures is None else max_failures
    ran = failures = 0
    mine: list[FrozenTrial] = []  # this worker's trials (the study's last one may be another worker's)
    with quiet_optuna():
        while True:
            optuna.storages.fail_stale_trials(study)
            counts = count_trials(study)
            if counts.finished >= trials or failures >= max_failures:
                return ran
            if counts.finished + counts.running >= trials:
                time.sleep(min(1.0, heartbeat.interval / 2))
                continue
            study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[lambda _, t: mine.append(t)])
            ran += 1
            failures += bool(mine) and mine[-1].state == TrialState.FAIL


def run_trials_alone(study: optuna.Study, objective: Callable[[optuna.Trial], float], *, trials: int,
                     max_failures: int | None = None) -> int:
    """Run trials of a study this process alone works on (`nnrecipe run`'s) until it holds `trials` finished ones.

    Ask and tell, without heartbeats: a trial interrupted by a kill or Ctrl-C stays RUNNING, and the next run
    takes it over and finishes it from its last checkpointed epoch under its own number, so a resumed study
    ends exactly as an uninterrupted one would (same trials, same numbers, same values).
    """
    max_failures = trials if max_failures is None else max_failures
    ran = failures = 0
    with quiet_optuna():
        for left in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            # optuna has no public handle on a stored trial; its parameters come back from suggest_* unchanged
            failures += _run_one(study, optuna.trial.Trial(study, left._trial_id), objective) == TrialState.FAIL
            ran += 1
        while count_trials(study).finished < trials and failures < max_failures:
            failures += _run_one(study, study.ask(), objective) == TrialState.FAIL
            ran += 1
    return ran


def _run_one(study: optuna.Study, trial: optuna.Trial, objective: Callable[[optuna.Trial], float]) -> TrialState:
    try:
        value = objective(trial)
    except optuna.TrialPruned:
        state = TrialState.PRUNED
        study.tell(trial, state=state)
    except Exception as exc:  # one broken configuration is a failed trial, not a failed run
        trial.set_user_attr("note", f"{type(exc).__name__}: {exc}"[:200])
        state = TrialState.FAIL
        study.tell(trial, state=state)
    else:
        state = TrialState.COMPLETE
        study.tell(trial, value)
    return state


# -- the report


@dataclass(frozen=True, kw_only=True)
class ReportSettings:
    #: parameter importance (fANOVA) needs this many complete trials to mean anything
    min_trials_for_importance: int = 4


def trials_table(study: optuna.Study, *, timings: bool = True) -> list[dict[str, Any]]:
    """One row per trial. Without `timings`, no worker or duration: the table of a seeded run is then the same
    however often it was interrupted."""
    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        duration = t.duration.total_seconds() if t.duration is not None else None
        last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
        row = {"trial": t.number, "state": t.state.name.lower(), "value": t.value, "last_reported": last,
               "params": dict(t.params), "epochs": t.user_attrs.get("epochs_run"),
               "note": t.user_attrs.get("note") or t.system_attrs.get("fail_reason", "")[:200]
               or ("the starting configuration" if t.user_attrs.get("incumbent") else "")}
        if timings:
            row.update(worker=t.user_attrs.get("worker"), seconds=duration)
        rows.append(row)
    return rows


def best_so_far(study: optuna.Study, *, higher_is_better: bool) -> list[dict[str, Any]]:
    """The score against the number of finished trials, in the order they finished."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state in FINISHED and t.datetime_complete is not None]
    done.sort(key=lambda t: t.datetime_complete)  # type: ignore[arg-type, return-value]
    best: float | None = None
    points = []
    for n, t in enumerate(done, start=1):
        if t.state == TrialState.COMPLETE and t.value is not None and (
                best is None or (t.value > best if higher_is_better else t.value < best)):
            best = t.value
        points.append({"trials": n, "trial": t.number, "value": t.value, "best": best})
    return points


def importance(study: optuna.Study, settings: ReportSettings = ReportSettings()) -> dict[str, Any]:
    """fANOVA importance of each parameter; with too few complete trials, the reason there is none."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(complete) < settings.min_trials_for_importance:
        return {"available": False, "reason": f"needs {settings.min_trials_for_importance} complete trials, "
                f"has {len(complete)}"}
    try:
        with quiet_optuna():
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
            values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError, ImportError) as exc:
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
    return {"available": True, "method": "fanova", "values": {k: float(v) for k, v in values.items()}}


def summarize(study: optuna.Study, definition: StudyDefinition, *, storage: str | None, timings: bool = True,
              settings: ReportSettings = ReportSettings()) -> StepResult:
    """The step's result: the trials, the best configuration, parameter importance, the score per trials."""
    metric, higher = definition.metric, definition.higher_is_better
    rows = trials_table(study, timings=timings)
    curve = best_so_far(study, higher_is_better=higher)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    details: dict[str, Any] = {"study": study.study_name, "storage": redact(storage) if storage else "memory",
                               "metric": metric, "space": [p.to_dict() for p in definition.space],
                               "trials": rows, "curve": curve, "importance": importance(study, settings)}
    counts = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail")}
    if not complete:
        reasons = sorted({r["note"] for r in rows if r["state"] == "fail" and r["note"]})
        return StepResult("tune", "fail", f"no trial completed ({counts['pruned']} pruned, {counts['fail']} failed)"
                          + (f": {reasons[0]}" if reasons else ""), details=details, artifacts={"trials": rows})
    best = study.best_trial
    incumbent = next((t for t in complete if t.user_attrs.get("incumbent")), None)
    details["best"] = {"trial": best.number, "value": best.value, "config": best.user_attrs.get("config"),
                       "params": best.params}
    summary = (f"{len(rows)} trials ({counts['complete']} complete, {counts['pruned']} pruned, {counts['fail']} failed); "
               f"best: trial {best.number}, val {metric} {best.value:.4g}")
    if incumbent is not None and incumbent.number != best.number:
        summary += f" (trial 0, the starting configuration: {incumbent.value:.4g})"
    elif incumbent is not None:
        summary += " (trial 0, the starting configuration, stays best)"
    ranked = details["importance"].get("values")
    if ranked:
        summary += "; most important: " + ", ".join(f"{k} {v:.2f}" for k, v in list(ranked.items())[:2])
    return StepResult("tune", "pass", summary, details=details,
                      artifacts={"trials": rows, "curve": curve, "importance": details["importance"]})


# -- step 5 in `nnrecipe run`


def definition_for(exp: Experiment, base: TrainingConfig, *, seed: int, tried: list[Mapping[str, Any]] | None,
                   ranges: SearchRanges = SearchRanges()) -> StudyDefinition:
    """The study a run tunes: step 4's findings decide the knobs; without them, every knob that applies."""
    metric, higher = selection_metric(exp)
    wanted = (knobs_that_matter(tried, metric=metric, higher_is_better=higher) if tried is not None
              else applicable_knobs(exp))
    declared = knobs.declared(exp)
    searched = [k for k in declared if KNOB + k.name in wanted]
    # trial 0 is the settled configuration: each searched knob it leaves at the factory's default says so
    settled = {k.name: k.default for k in searched if k.known_default and k.name not in base.knobs}
    base = base.replace(knobs={**base.knobs, **settled}) if settled else base
    return StudyDefinition(base=base, space=tuple(search_space(base, wanted, declared=declared, ranges=ranges)),
                           metric=metric, higher_is_better=higher, seed=seed)


def run_tune(state: RunState, *, sampler: str = "random", storage: str | None = None) -> StepResult:
    """Step 5: the study in the run folder's SQLite file (or memory), resumed when the run is."""
    exp = state.experiment
    budget = TUNE_BUDGETS[state.ctx.budget]
    if state.config is None:
        state.config = TrainingConfig(batch_size=exp.batch_size, epochs=exp.epochs)
    tried = _step4_rows(state)
    definition = definition_for(exp, state.config, seed=state.ctx.derive("tune"), tried=tried)
    url = storage or default_storage(state.out_dir)
    # the run's settings are part of the name: a folder reused with other settings never mixes two studies
    name = f"{exp.name}-{derive_seed(0, state.journal.fingerprint, definition.to_attrs()):08x}"
    study, definition = open_study(open_storage(url, heartbeat=None), name, definition, sampler=sampler,
                                   budget=budget)
    folder = study_folder(state.out_dir, name)
    runner = TrialRunner(exp, definition, budget.max_epochs, state.device, folder, state.progress)
    run_trials_alone(study, runner, trials=budget.trials)
    # no timings in the document: a resumed run's report must equal an uninterrupted one's
    result = summarize(study, definition, storage=url, timings=False)
    outcome = TuneOutcome(study=study, definition=definition, in_memory=runner.in_memory, folder=folder)
    state.artifacts["tune"] = outcome
    ranked = outcome.ranked()
    best = outcome.model(ranked[0], exp, device=state.device) if ranked else None
    if best is not None:  # the best trial's model is what tuning ends with (its gain shows in the steps table)
        state.model, state.config = best, TrainingConfig.from_dict(ranked[0].user_attrs["config"])
    return result


def _step4_rows(state: RunState) -> list[Mapping[str, Any]] | None:
    for step in state.steps:
        if step.step == "regularize" and "tried" in step.details:
            return list(step.details["tried"])
    return None


@dataclass
class TuneOutcome:
    """What step 6 takes from step 5: the study, and where the completed trials' weights are."""

    study: optuna.Study
    definition: StudyDefinition
    in_memory: dict[int, dict[str, Any]]
    folder: Path | None

    def ranked(self) -> list[FrozenTrial]:
        """Completed trials, best first."""
        done = [t for t in self.study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
        return sorted(done, key=lambda t: t.value, reverse=self.definition.higher_is_better)  # type: ignore[arg-type, return-value]

    def weights(self, trial: FrozenTrial) -> dict[str, Any] | None:
        return saved_trial(self.folder, trial.number, self.in_memory)

    def model(self, trial: FrozenTrial, exp: Experiment, *, device: torch.device) -> torch.nn.Module | None:
        """A completed trial's model with its kept weights; None when they are on another machine."""
        saved = self.weights(trial)
        if saved is None:
            return None
        model = build_model(exp, TrainingConfig.from_dict(saved["config"]), device=device, seed=int(saved["seed"]))
        model.load_state_dict(saved["model"])
        return model


# -- `nnrecipe tune`: one worker process (several per machine with --workers)


@dataclass(frozen=True, kw_only=True)
class WorkerJob:
    """Everything a worker process needs, picklable for multiprocessing's spawn."""

    spec: str | None
    storage: str
    study: str
    trials: int
    budget: str = "default"
    sampler: str = "random"
    seed: int | None = None
    device: str = "cpu"
    out_dir: str | None = None
    heartbeat: Heartbeat = Heartbeat()
    threads: int | None = None


def worker_main(job: WorkerJob, progress: Progress | None = None) -> int:
    """Join (or create) the study and pull trials until it holds `job.trials` finished ones."""
    from nnrecipe.engine.device import resolve_device
    from nnrecipe.spec import load_spec

    if job.threads:
        torch.set_num_threads(job.threads)
    exp = load_spec(job.spec)
    folder = Path(job.out_dir) if job.out_dir else None
    base, tried = _settled_in(folder, exp)
    seed = derive_seed(exp.seed if job.seed is None else job.seed, "tune")
    budget = TUNE_BUDGETS[job.budget]
    study, definition = open_study(open_storage(job.storage, heartbeat=job.heartbeat), job.study,
                                   definition_for(exp, base, seed=seed, tried=tried), sampler=job.sampler,
                                   budget=budget)
    runner = TrialRunner(exp, definition, budget.max_epochs, resolve_device(job.device),
                         study_folder(folder, job.study), progress or Progress())
    return run_trials(study, runner, trials=job.trials, heartbeat=job.heartbeat)


def _settled_in(folder: Path | None, exp: Experiment) -> tuple[TrainingConfig, list[Mapping[str, Any]] | None]:
    """Step 4's configuration and table from a run folder (`nnrecipe run` left them), else plain defaults."""
    import json

    base = TrainingConfig(batch_size=exp.batch_size, epochs=exp.epochs)
    tried = None
    if folder is not None and (folder / "config.json").exists():
        base = TrainingConfig.from_dict(json.loads((folder / "config.json").read_text())["config"])
    if folder is not None and (folder / "result.json").exists():
        steps = json.loads((folder / "result.json").read_text()).get("steps", [])
        tried = next((s["details"]["tried"] for s in steps if s.get("step") == "regularize"
                      and "tried" in s.get("details", {})), None)
    return base, tried


#: a worker process that dies (killed, out of memory) is replaced, up to this many times per worker asked for
REPLACEMENTS_PER_WORKER = 3


def run_workers(job: WorkerJob, *, workers: int, poll: float = 1.0) -> list[int]:
    """`--workers N`: N processes on this machine, each a worker of the same study (the cores shared out).

    The processes are watched, not waited on blindly: a worker that dies leaves its trial to the heartbeat (it
    fails and is queued again once 3x overdue) and a new worker takes its place, so the study completes; one that
    keeps dying ends the command with an error instead of a hang.
    """
    import multiprocessing

    threads = job.threads or max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools and open connections
    results = context.Queue()
    job = _with_threads(job, threads)
    running = [_start_worker(context, job, results) for _ in range(workers)]
    replaced, done = 0, []
    while running:
        for proc in list(running):
            proc.join(timeout=poll / max(len(running), 1))
            if proc.exitcode is None:
                continue
            running.remove(proc)
            if proc.exitcode == 0:
                continue
            if replaced >= REPLACEMENTS_PER_WORKER * workers:
                for other in running:
                    other.terminate()
                raise UsageError(f"tune: worker processes keep dying (the last exited with code {proc.exitcode}, "
                                 f"{replaced} replaced already); the study in {redact(job.storage)!r} keeps what "
                                 "they finished")
            replaced += 1
            running.append(_start_worker(context, job, results))
    while not results.empty():
        done.append(results.get())
    return done


def _start_worker(context: Any, job: WorkerJob, results: Any) -> Any:
    proc = context.Process(target=_worker_process, args=(job, results), daemon=False)
    proc.start()
    return proc


def _worker_process(job: WorkerJob, results: Any) -> None:
    results.put(worker_main(job))


def _with_threads(job: WorkerJob, threads: int) -> WorkerJob:
    import dataclasses

    return dataclasses.replace(job, threads=threads)


def study_result(job: WorkerJob) -> StepResult:
    """The tune step's result for a study, as it stands in its storage."""
    storage = open_storage(job.storage, heartbeat=job.heartbeat)
    with quiet_optuna():
        study = optuna.load_study(storage=storage, study_name=job.study)
    return summarize(study, StudyDefinition.from_attrs(study.user_attrs), storage=job.storage)
