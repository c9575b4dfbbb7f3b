"""The tune step's report: one row per trial, the best score against the trials run, fANOVA parameter
importance, and the step's result with its one-line summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nnrecipe.results import StepResult
from nnrecipe.steps.tune.space import StudyDefinition
from nnrecipe.steps.tune.storage import quiet_optuna, redact
from nnrecipe.steps.tune.study import FINISHED


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
    """The score against the number of finished trials, in the trials' order (the order they were asked for:
    the same with one worker or several, however their trainings overlapped)."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state in FINISHED]
    done.sort(key=lambda t: t.number)
    best: float | None = None
    points = []
    for n, t in enumerate(done, start=1):
        if t.state == TrialState.COMPLETE and t.value is not None and (
                best is None or (t.value > best if higher_is_better else t.value < best)):
            best = t.value
        points.append({"trials": n, "trial": t.number, "value": t.value, "best": best})
    return points


def pruning_saved(rows: list[dict[str, Any]], *, epochs: int) -> dict[str, Any]:
    """What pruning saved: the epochs the finished trials trained against those they would have without it
    (each trial plans `epochs`)."""
    finished = [r for r in rows if r["state"] in ("complete", "pruned") and isinstance(r.get("epochs"), int)]
    trained = sum(r["epochs"] for r in finished)
    planned = epochs * len(finished)
    return {"pruned": sum(r["state"] == "pruned" for r in finished), "epochs_trained": trained,
            "epochs_without_pruning": planned, "saved": (1 - trained / planned) if planned else 0.0}


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
              settings: ReportSettings = ReportSettings(), epochs: int | None = None) -> StepResult:
    """The step's result: the trials, the best configuration, parameter importance, the score per trials and,
    given the epochs each trial plans, what pruning saved."""
    rows = trials_table(study, timings=timings)
    curve = best_so_far(study, higher_is_better=definition.higher_is_better)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    details: dict[str, Any] = {"study": study.study_name, "storage": redact(storage) if storage else "memory",
                               "metric": definition.metric, "space": [p.to_dict() for p in definition.space],
                               "trials": rows, "curve": curve, "importance": importance(study, settings)}
    if epochs is not None:
        details["pruning"] = pruning_saved(rows, epochs=epochs)
    counts = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail")}
    if not complete:
        reasons = sorted({r["note"] for r in rows if r["state"] == "fail" and r["note"]})
        return StepResult("tune", "fail", f"no trial completed ({counts['pruned']} pruned, {counts['fail']} failed)"
                          + (f": {reasons[0]}" if reasons else ""), details=details)
    best = study.best_trial
    incumbent = next((t for t in complete if t.user_attrs.get("incumbent")), None)
    details["best"] = {"trial": best.number, "value": best.value, "config": best.user_attrs.get("config"),
                       "params": best.params}
    summary = _summary_line(len(rows), counts, definition.metric, best, incumbent, details["importance"])
    if details.get("pruning", {}).get("pruned"):
        saved = details["pruning"]
        summary += (f"; pruning saved {saved['saved']:.0%} of the epochs ({saved['epochs_trained']} trained of "
                    f"{saved['epochs_without_pruning']})")
    return StepResult("tune", "pass", summary, details=details)


def _summary_line(trials: int, counts: Mapping[str, int], metric: str, best: FrozenTrial,
                  incumbent: FrozenTrial | None, ranking: Mapping[str, Any]) -> str:
    """The step's one line: how the trials ended, the best one against trial 0, the most important parameters."""
    summary = (f"{trials} trials ({counts['complete']} complete, {counts['pruned']} pruned, {counts['fail']} failed); "
               f"best: trial {best.number}, val {metric} {best.value:.4g}")
    if incumbent is not None and incumbent.number != best.number:
        summary += f" (trial 0, the starting configuration: {incumbent.value:.4g})"
    elif incumbent is not None:
        summary += " (trial 0, the starting configuration, stays best)"
    ranked = ranking.get("values")
    if ranked:
        summary += "; most important: " + ", ".join(f"{k} {v:.2f}" for k, v in list(ranked.items())[:2])
    return summary
