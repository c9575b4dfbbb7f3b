"""The terminal view: a rich table of checks, each failure's fix, the steps and scores, and live progress."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from nnrecipe.engine.loop import Callback, EpochRecord, History
from nnrecipe.progress import Progress
from nnrecipe.results import CheckResult, RunResult, StepResult

if TYPE_CHECKING:
    from torch import nn

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim", "error": "magenta"}
STATUS_MARK = {"pass": "✓ pass", "warn": "! warn", "fail": "✗ fail", "skip": "- skip", "error": "? error"}


def status_text(status: str) -> Text:
    return Text(STATUS_MARK.get(status, status), style=STATUS_STYLE.get(status, ""))


def checks_table(checks: tuple[CheckResult, ...]) -> Table:
    table = Table(show_header=True, header_style="bold", expand=False, show_lines=False)
    table.add_column("stage", style="dim", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("summary")
    table.add_column("s", justify="right", style="dim", no_wrap=True)
    for c in checks:
        # Text, never markup: a summary quoting a path or a value like "[/cat]" must print as it is
        table.add_row(c.stage, Text(c.id), status_text(c.status), Text(c.summary), f"{c.seconds:.1f}")
    return table


def steps_table(result: RunResult) -> Table:
    """The steps, the experiment as written first: each step's val and test figure, its change since the row
    before, and its gain over the experiment as written."""
    from nnrecipe.report.gains import baseline_row, gain_metric, step_gains

    table = Table(show_header=True, header_style="bold")
    table.add_column("step")
    table.add_column("status")
    first = baseline_row(result.baseline, result.steps)
    scored = any(s.scores for s in result.steps) or first is not None
    metric = gain_metric(result.steps, result.baseline)
    if scored:
        for column in (f"val {metric}", "change", f"test {metric}", "vs as written"):
            table.add_column(column, justify="right")
    table.add_column("summary")
    if first is not None:
        shown = [first["val"], "", first["test"], ""] if scored else []
        table.add_row("as written", Text("·"), *map(Text, shown), Text(first["summary"]))
    for s, gain in zip(result.steps, step_gains(result.steps, result.baseline), strict=True):
        shown = [gain["val"], gain["change"], gain["test"], gain["vs_baseline"]] if scored else []
        table.add_row(s.step, status_text(s.status), *map(Text, shown), Text(s.summary))
    return table


def render_result(result: RunResult, console: Console, *, report_path: str | None = None) -> None:
    """The summary a person reads at the end of a command."""
    if result.checks:
        console.print(checks_table(result.checks))
    problems = [c for c in result.checks if c.status in ("fail", "warn") and c.fix]
    for c in problems:
        console.print(Text.assemble(status_text(c.status), " ", (c.id, "bold"), ": ", c.fix or ""))
    for c in result.checks:
        if c.status == "error":
            console.print(Text.assemble(status_text("error"), " ", (c.id, "bold"), ": ", c.summary))
    if result.steps:
        console.print(steps_table(result))
        from nnrecipe.report.gains import headline

        line = headline(result)
        if line:
            console.print(Text(line, style="bold"))
    for split, scores in result.scores.items():
        figures = ", ".join(f"{k} {_fmt(v)}" for k, v in scores.items())
        console.print(Text.assemble((f"{split}: ", "bold"), figures))
    if report_path:
        console.print(Text.assemble("report: ", (report_path, "underline")))


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class TerminalProgress(Progress):
    """Live progress on a rich console: one line per check as it finishes, a bar while training."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def check_done(self, result: CheckResult) -> None:
        self.console.print(Text.assemble("  ", status_text(result.status), " ", (result.id, "bold"), " ",
                                         (f"{result.seconds:.1f}s", "dim")))

    def step_started(self, step: str, description: str) -> None:
        self.console.rule(Text.assemble((step, "bold"), f": {description}"), align="left")

    def step_done(self, result: StepResult) -> None:
        self.console.print(Text.assemble("  step ", (result.step, "bold"), " ", status_text(result.status), " ",
                                         result.summary))

    def note(self, message: str) -> None:
        self.console.print(Text(message, style="italic"))

    def training(self, label: str, epochs: int) -> Callback:
        return _EpochBar(self.console, label, epochs)


class _EpochBar(Callback):
    def __init__(self, console: Console, label: str, epochs: int) -> None:
        self.bar = RichProgress(TextColumn("  {task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[figures]}", markup=False), TimeElapsedColumn(), console=console,
                                transient=True)
        self.label, self.epochs = label, epochs
        self.task: Any = None

    def on_train_start(self, model: nn.Module, optimizer: Any) -> None:
        self.bar.start()
        self.task = self.bar.add_task(self.label, total=self.epochs, figures="")

    def on_epoch_end(self, record: EpochRecord, model: nn.Module) -> bool:
        figures = f"train {record.train_loss:.3g}" + "".join(f"  val {k} {v:.3g}" for k, v in record.val.items())
        self.bar.update(self.task, advance=1, figures=figures)
        return False

    def on_train_end(self, history: History) -> None:
        self.bar.stop()
