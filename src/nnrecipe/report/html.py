"""The HTML view: one self-contained page from a RunResult (its JSON document) and the `Pictures` beside it
(their in-memory material).

Sections follow the recipe's steps; in each, the step's result, its checks (status, summary, fix, picture,
numbers) and the pictures drawn from the run's material that belong there. Pictures are PNG data URIs,
the style is inline: the page needs no network and no other file. Every string is escaped by the
template engine (jinja2 with autoescape), so a name like `<script>` shows as text.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nnrecipe.report.gains import baseline_row, gain_metric, headline, step_gains
from nnrecipe.results import NO_PICTURES, STATUSES, CheckResult, Pictures, RunResult, StepResult

if TYPE_CHECKING:
    import jinja2

    from nnrecipe.report.figures import Picture


@dataclass(frozen=True)
class Section:
    """How the page names one stage of the recipe, with the recipe's own words for it."""

    number: str
    short: str
    title: str
    quote: str
    #: the section's id on the page (default: stage-<key>)
    anchor: str = ""


SECTIONS: dict[str, Section] = {
    "data": Section("1", "data", "Become one with the data",
                    "Spend time scanning through the data: duplicates, corrupted examples, imbalances, outliers."),
    "look-at-data": Section("1", "look at the data", "Look at the data",
                            "Scan through the examples, understand their distribution, and look at the outliers "
                            "along any axis: they almost always uncover bugs.", anchor="look-at-data"),
    "skeleton": Section("2", "skeleton", "Set up the end-to-end training/evaluation skeleton and dumb baselines",
                        "Verify loss at init, overfit one batch, visualize just before the net, visualize "
                        "prediction dynamics."),
    "overfit": Section("3", "overfit", "Overfit",
                       "Get a model large enough that it can overfit, then focus on the validation loss."),
    "regularize": Section("4", "regularize", "Regularize",
                          "Give up some training accuracy to gain validation accuracy."),
    "tune": Section("5", "tune", "Tune", "Search hyperparameters; random search over grid search."),
    "squeeze": Section("6", "squeeze", "Squeeze out the juice", "Ensembles, and leave it training."),
    "training": Section("·", "final training", "Final training",
                        "The run's final model trained for its planned epochs, observed from the inside."),
    "error-analysis": Section("·", "error analysis", "Error analysis",
                              "Look at the network's (mis)predictions and understand where they might be coming "
                              "from.", anchor="error-analysis"),
}

#: the "training" section of a loop watched with `nr.watch` (its checks and curves)
WATCHED = Section("·", "training", "Training, watched",
                  "Your own training loop, observed from the inside: the loss, the learning rate, the gradients "
                  "and what enters the net, checked while it runs.")

#: numbers longer than this are shown abbreviated (the JSON document keeps them whole)
LIST_SHOWN = 8
TEXT_SHOWN = 400
TABLE_ROWS = 30


def render_html(result: RunResult, pictures: Pictures = NO_PICTURES) -> str:
    """The whole page as one string; without pictures, every section's numbers and tables but no picture."""
    from nnrecipe import __version__

    sections = [_section(stage, result, pictures) for stage in SECTIONS]
    sections = [s for s in sections if s["checks"] or s["step"] or s["figures"]]
    counts = [(status, n) for status in STATUSES if (n := sum(c.status == status for c in result.checks))]
    overall = _overall(result)
    metrics = sorted({m for scores in result.scores.values() for m in scores})
    page = {
        "experiment": result.experiment,
        "version": __version__,
        "command": result.command,
        "checks_total": len(result.checks),
        "steps_total": len(result.steps),
        "overall": overall,
        "overall_text": {"fail": "something is broken", "warn": "look at the warnings", "pass": "all checks pass",
                         "error": "a check broke", "skip": "nothing ran"}[overall],
        "counts": counts,
        "score_metrics": metrics,
        "scores": [(split, [_format(s.get(m, "")) for m in metrics]) for split, s in result.scores.items()],
        "sections": sections,
        "overview": [_overview_row(c, i) for i, c in enumerate(result.checks)],
        "steps": [{"id": s.step, "status": s.status, "summary": s.summary, "anchor": f"stage-{s.step}", **gain}
                  for s, gain in zip(result.steps, step_gains(result.steps, result.baseline), strict=True)],
        "gain_metric": gain_metric(result.steps, result.baseline),
        "baseline": baseline_row(result.baseline, result.steps),
        "headline": headline(result),
    }
    return _template().render(page=page)


@functools.lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("nnrecipe.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("page.html")


def _overall(result: RunResult) -> str:
    statuses = {c.status for c in result.checks} | {s.status for s in result.steps}
    return next((s for s in ("fail", "error", "warn", "pass") if s in statuses), "skip")


def _section(stage: str, result: RunResult, pictures: Pictures) -> dict[str, Any]:
    from nnrecipe.report.figures import page_artifacts, run_pictures

    meta = WATCHED if stage == "training" and result.command == "watch" else SECTIONS[stage]
    step = next((s for s in result.steps if s.step == stage), None)
    checks = [(i, c) for i, c in enumerate(result.checks) if c.stage == stage]
    artifacts = page_artifacts(result, pictures)  # with `check`, the short run's input batch
    figures = [{"title": f.title, "caption": f.caption, "picture": pic,
                "numbers": _numbers(f.numbers(artifacts[f.artifact])) if f.numbers else []}
               for f, pic in run_pictures(artifacts, stage)]
    return {"anchor": meta.anchor or f"stage-{stage}", "number": meta.number, "short": meta.short, "title": meta.title,
            "quote": meta.quote, "step": _step_view(step, pictures.step(step.step)) if step else None,
            "checks": [_check_view(c, i, pictures.check(c.id)) for i, c in checks], "figures": figures}


def _overview_row(check: CheckResult, index: int) -> dict[str, Any]:
    return {"id": check.id, "stage": check.stage, "status": check.status, "summary": check.summary,
            "anchor": f"check-{index}"}


def _check_view(check: CheckResult, index: int, material: Mapping[str, Any]) -> dict[str, Any]:
    from nnrecipe.report.figures import check_picture

    evidence, tables = _split_tables(check.evidence)
    traceback = evidence.pop("traceback", None)
    return {"id": check.id, "title": _check_title(check.id, check.stage), "status": check.status, "summary": check.summary,
            "fix": check.fix, "seconds": f"{check.seconds:.1f} s", "anchor": f"check-{index}",
            "numbers": _numbers(evidence), "tables": tables, "traceback": traceback,
            "picture": _safe_picture(check_picture, check, material)}


def _step_view(step: StepResult, material: Mapping[str, Any]) -> dict[str, Any]:
    from nnrecipe.report.figures import step_picture

    # the error analysis has a section of its own
    numbers, tables = _split_tables({k: v for k, v in step.details.items() if k != "error_analysis"})
    return {"id": step.step, "status": step.status, "summary": step.summary, "numbers": _numbers(numbers),
            "tables": tables, "picture": _safe_picture(step_picture, step, material)}


def _safe_picture(fn: Any, item: Any, material: Mapping[str, Any]) -> Picture | None:
    from nnrecipe.report.figures import Picture

    try:
        return fn(item, material)  # type: ignore[no-any-return]
    except Exception as exc:  # draw() already catches; this guards the registry lookup itself
        return Picture(str(getattr(item, "id", "")), note=f"no picture ({type(exc).__name__}: {exc})")


def _check_title(check_id: str, stage: str = "") -> str:
    try:
        from nnrecipe.catalog import WATCH_CHECK_TITLES
        from nnrecipe.checks.registry import CHECKS
    except Exception:  # a broken registry must not break the page
        return check_id
    # the online checks of `nr.watch` (stage "training") share some ids with step-2 checks; their titles come
    # from the catalog, as the report sits below the watching package
    if stage == "training":
        return WATCH_CHECK_TITLES.get(check_id) or check_id
    cls = CHECKS.get(check_id)
    return (cls.title if cls is not None and cls.title else check_id)


def _split_tables(values: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Lists of records (a ladder's rungs, the candidates tried, example pairs) become tables; the rest numbers."""
    plain: dict[str, Any] = {}
    tables: list[dict[str, Any]] = []
    for key, value in (values or {}).items():
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
            columns = list(dict.fromkeys(k for row in value for k in row))
            rows = [[_format(row.get(c, "")) for c in columns] for row in value[:TABLE_ROWS]]
            tables.append({"title": str(key), "columns": columns, "rows": rows,
                           "more": max(0, len(value) - TABLE_ROWS)})
        else:
            plain[key] = value
    return plain, tables


def _numbers(evidence: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Evidence flattened to (dotted key, short text) rows."""
    rows: list[tuple[str, str]] = []
    for key, value in (evidence or {}).items():
        if isinstance(value, Mapping) and value:
            rows.extend((f"{key}.{k}", v) for k, v in _numbers(value))
        else:
            rows.append((str(key), _format(value)))
    return rows


def _format(value: Any) -> str:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        shown = ", ".join(_format(v) for v in value[:LIST_SHOWN])
        more = f", … ({len(value)} values)" if len(value) > LIST_SHOWN else ""
        return f"[{shown}{more}]"
    text = str(value)
    return text if len(text) <= TEXT_SHOWN else text[:TEXT_SHOWN] + " …"
