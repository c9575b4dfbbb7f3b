"""The command line: parse, call the library, render, exit with the contract's code.

Exit codes: 0 done / no check failed, 1 a gate or a check failed, 2 a usage or spec error. A usage or spec
error is one paragraph on stderr with no traceback, unless --debug.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nnrecipe.results import Report

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 2 with one clear paragraph (argparse's own code is also 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"nnrecipe: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="PATH", help="write the result document (JSON) here")
    p.add_argument("--out", metavar="DIR", help="run folder: report, logs, checkpoints")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write TensorBoard event files into the run folder (needs --out for check and audit)")
    p.add_argument("--seed", type=int, default=None, help="override the experiment's seed")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to train (default: auto)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    from nnrecipe import __version__

    parser = _Parser(prog="nnrecipe", description="Karpathy's recipe for training neural networks, as software.")
    parser.add_argument("--version", action="version", version=f"nnrecipe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="all six steps in order, with their gates")
    run.add_argument("spec", nargs="?", default=None, help="spec file or built-in name (default: mnist1d)")
    run.add_argument("--budget", default="default", choices=("quick", "default", "long"),
                     help="how much training the steps may spend")
    run.add_argument("--force", action="store_true", help="go on past a failed gate (the report says so)")
    run.add_argument("--until", metavar="STEP", default=None,
                     help="stop after this step (data, skeleton, overfit, regularize, tune, squeeze); default: all six")
    run.add_argument("--fix-init", action="store_true",
                     help="set the model's final-layer bias to the data's prior (log class frequencies, target mean)")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="processes that train independent units side by side, each with cores // N threads "
                          "(default: one per physical core on a CPU, one on a GPU; 1: all in one process)")
    _common(run)

    check = sub.add_parser("check", help="step 1 (data) and step 2 (skeleton and baselines) checks")
    check.add_argument("spec", help="spec file or built-in name")
    check.add_argument("--only", metavar="IDS", help="comma-separated check ids to run")
    check.add_argument("--junit", metavar="PATH", help="also write the checks as JUnit XML, one testcase per check (CI)")
    check.add_argument("--fix-init", action="store_true",
                       help="set the model's final-layer bias to the data's prior (log class frequencies, target mean)")
    _common(check)

    audit = sub.add_parser("audit", help="step 1 only: audit a spec's data, or a data path directly")
    audit.add_argument("spec", metavar="SPEC_OR_PATH",
                       help="spec file, built-in name, image folder, CSV/Parquet table, .npz (x, y) or text folder")
    audit.add_argument("--target", metavar="COLUMN", help="the target column of a CSV or Parquet table")
    audit.add_argument("--only", metavar="IDS", help="comma-separated data check ids to run")
    _common(audit)

    tune = sub.add_parser("tune", help="step 5 alone: a worker of a tuning study (start one per machine)")
    tune.add_argument("spec", nargs="?", default=None, help="spec file or built-in name (default: mnist1d)")
    tune.add_argument("--storage", metavar="URL",
                      help="database URL shared by every worker (postgresql://..., sqlite:///...); "
                           "default: an SQLite file in the run folder")
    tune.add_argument("--study", metavar="NAME", help="study name (default: <experiment>-tune)")
    tune.add_argument("--trials", type=int, default=None, help="finished trials the study should hold in all")
    tune.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    tune.add_argument("--sampler", default="random", choices=("random", "tpe"), help="search (default: random)")
    tune.add_argument("--budget", default="default", choices=("quick", "default", "long"),
                      help="epochs per trial and default number of trials")
    tune.add_argument("--heartbeat", type=int, default=10, metavar="SECONDS",
                      help="a worker silent for 3x this long is taken for dead: its trial fails and is retried")
    _common(tune)

    sub.add_parser("list", help="the built-in experiments and the checks")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "tensorboard", False) and args.command != "run" and not args.out:
        parser.error("--tensorboard writes event files into the run folder: give --out DIR as well")
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from rich.console import Console

    from nnrecipe.errors import NnrecipeError

    console = Console(stderr=False, highlight=False)
    try:
        return _COMMANDS[args.command](args, console)
    except NnrecipeError as exc:
        if getattr(args, "debug", False):
            raise
        from rich.text import Text

        # Text, not markup: a message quoting user values such as "[1, 2]" must print as it is.
        Console(stderr=True, highlight=False).print(Text.assemble(("nnrecipe: error: ", "bold red"), str(exc)))
        return EXIT_USAGE
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted: what was finished is saved")
        return 130


def _cmd_list(args: argparse.Namespace, console: Any) -> int:
    from rich.table import Table

    from nnrecipe.builtin import BUILTINS
    from nnrecipe.checks.registry import CHECKS

    console.print("[bold]built-in experiments:[/] " + ", ".join(BUILTINS))
    table = Table("check", "stage", "what it verifies", header_style="bold")
    for cid, cls in CHECKS.items():
        table.add_row(cid, cls.stage, cls.title or (cls.__doc__ or "").strip().splitlines()[0])
    console.print(table)
    return EXIT_OK


def _cmd_check(args: argparse.Namespace, console: Any) -> int:
    from nnrecipe.report.terminal import TerminalProgress
    from nnrecipe.runner import check_report
    from nnrecipe.spec import load_spec

    ids = [i.strip() for i in args.only.split(",") if i.strip()] if args.only else None
    _destinations(args)
    experiment = _fixed_init(load_spec(args.spec), args)
    report = check_report(experiment, ids=ids, device=args.device, seed=args.seed, progress=TerminalProgress(console))
    if args.junit:
        from nnrecipe.testing import write_junit

        write_junit(report.result, args.junit)
    return _finish(args, console, report)


def _cmd_run(args: argparse.Namespace, console: Any) -> int:
    from nnrecipe.report.terminal import TerminalProgress
    from nnrecipe.spec import load_spec
    from nnrecipe.steps.pipeline import run_report

    _destinations(args)
    experiment = _fixed_init(load_spec(args.spec), args)
    if args.out is None:
        args.out = str(Path("runs") / experiment.name)
    _destinations(args)
    if args.workers is not None and args.workers < 1:
        from nnrecipe.errors import UsageError

        raise UsageError(f"run: expected --workers >= 1, but got {args.workers}")
    report = run_report(experiment, device=args.device, seed=args.seed, budget=args.budget, out_dir=args.out,
                        force=args.force, progress=TerminalProgress(console), until=args.until, workers=args.workers)
    return _finish(args, console, report)


def _destinations(args: argparse.Namespace) -> None:
    """--out and --json checked before any work: a crash after training would lose it."""
    from nnrecipe.engine.run_folder import check_destinations

    check_destinations(out_dir=args.out, json_path=args.json)


def _fixed_init(experiment: Any, args: argparse.Namespace) -> Any:
    """With --fix-init, every fresh model starts with its final bias at the data's prior (see init-bias)."""
    if not getattr(args, "fix_init", False):
        return experiment
    from nnrecipe.checks.skeleton.init_bias import with_fixed_init

    return with_fixed_init(experiment)


def _finish(args: argparse.Namespace, console: Any, report: Report) -> int:
    from nnrecipe.report.terminal import render_result
    from nnrecipe.report.writer import write_outputs

    result = report.result
    report_path = write_outputs(result, report.pictures, json_path=args.json, out_dir=args.out,
                                tensorboard=getattr(args, "tensorboard", False))
    render_result(result, console, report_path=report_path)
    return EXIT_FAILED if result.failed or result.errored else EXIT_OK


def _cmd_audit(args: argparse.Namespace, console: Any) -> int:
    from nnrecipe.audit.sources import is_spec
    from nnrecipe.report.terminal import TerminalProgress

    ids = [i.strip() for i in args.only.split(",") if i.strip()] if args.only else None
    _destinations(args)
    progress = TerminalProgress(console)
    if is_spec(args.spec):
        from nnrecipe.runner import check_report
        from nnrecipe.spec import load_spec

        if args.target is not None:
            from nnrecipe.errors import UsageError

            raise UsageError(f"audit: --target names a table's target column, but {args.spec!r} is a spec; "
                             "a spec's datasets already yield (input, target) pairs")
        report = check_report(load_spec(args.spec), stages=("data",), ids=ids, device="cpu", seed=args.seed,
                              progress=progress)
    else:
        from nnrecipe.audit.sources import from_path
        from nnrecipe.runner import audit_report

        data = from_path(args.spec, target=args.target)
        report = audit_report(data, seed=args.seed or 0, ids=ids, progress=progress)
        report = _with_look_at_data(report, data, seed=args.seed or 0)
    return _finish(args, console, report)


def _with_look_at_data(report: Report, data: Any, *, seed: int) -> Report:
    """The report's "look at the data" for a data path (its profile is built again only if the report is drawn)."""
    import dataclasses

    from nnrecipe.audit.context import AuditContext
    from nnrecipe.audit.look import DataView
    from nnrecipe.results import Report

    view = DataView(AuditContext(data, seed=seed), seed=seed)
    pictures = dataclasses.replace(report.pictures, run={**report.pictures.run, "look_at_data": view})
    return Report(report.result, pictures)


def _cmd_tune(args: argparse.Namespace, console: Any) -> int:
    from nnrecipe.errors import UsageError
    from nnrecipe.results import Report, RunResult
    from nnrecipe.spec import load_spec
    from nnrecipe.steps.tune import (
        TUNE_BUDGETS,
        Heartbeat,
        WorkerJob,
        default_storage,
        run_workers,
        study_result,
        worker_main,
    )

    if args.workers < 1 or (args.trials is not None and args.trials < 1) or args.heartbeat < 1:
        raise UsageError(f"tune: expected --workers, --trials and --heartbeat >= 1, but got {args.workers}, "
                         f"{args.trials} and {args.heartbeat}")
    _destinations(args)
    name = load_spec(args.spec).name
    if args.out is None:
        args.out = str(Path("runs") / name)
    _destinations(args)
    job = WorkerJob(spec=args.spec, storage=args.storage or str(default_storage(Path(args.out))),
                    study=args.study or f"{name}-tune", trials=args.trials or TUNE_BUDGETS[args.budget].trials,
                    budget=args.budget, sampler=args.sampler, seed=args.seed, device=args.device, out_dir=args.out,
                    heartbeat=Heartbeat(interval=args.heartbeat, grace=3 * args.heartbeat))
    if args.workers == 1:
        from nnrecipe.report.terminal import TerminalProgress

        worker_main(job, progress=TerminalProgress(console))
    else:
        run_workers(job, workers=args.workers)
    # the tune step's picture draws from its details (the trials, the curve, the importance): no pictures beside
    return _finish(args, console, Report(RunResult(experiment=name, steps=(study_result(job),), command="tune")))


_COMMANDS = {"run": _cmd_run, "check": _cmd_check, "audit": _cmd_audit, "list": _cmd_list, "tune": _cmd_tune}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
