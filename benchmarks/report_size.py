"""How long the report takes to generate and how large it is, for `check` and for `run` on a built-in.

Targets (issue 5): at most 5 s to generate, under 5 MB. The plain alternative beside it: writing only the
JSON document. The training itself is not timed; only turning the finished RunResult into files.

    python benchmarks/report_size.py [--spec digits] [--budget quick] [--skip-run]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from nnrecipe.report.html import render_html
from nnrecipe.report.writer import write_outputs
from nnrecipe.results import Report
from nnrecipe.runner import check_report
from nnrecipe.spec import load_spec
from nnrecipe.steps.pipeline import run_report


def measure(label: str, report_of: Report) -> None:
    result, drawn = report_of.result, report_of.pictures
    started = time.perf_counter()
    json.dumps(result.to_dict())
    json_seconds = time.perf_counter() - started
    render_html(result, drawn)  # warm: imports matplotlib and jinja2 once, as a real command does before writing
    with tempfile.TemporaryDirectory() as folder:
        started, cpu_started = time.perf_counter(), time.process_time()
        report = write_outputs(result, drawn, json_path=None, out_dir=folder)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        assert report is not None
        size = Path(report).stat().st_size
        pictures = Path(report).read_text().count("<img ")
        started = time.perf_counter()
        write_outputs(result, drawn, json_path=None, out_dir=folder, tensorboard=True)
        tb_seconds = time.perf_counter() - started
    # CPU seconds beside wall seconds: on a shared, loaded machine the wall time measures the neighbours.
    print(f"{label:<28} report {seconds:5.2f} s wall, {cpu:5.2f} s CPU  {size / 1e6:5.2f} MB  {pictures:2d} pictures | "
          f"with --tensorboard {tb_seconds:5.2f} s | JSON only {json_seconds * 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", default="digits")
    parser.add_argument("--budget", default="quick")
    parser.add_argument("--skip-run", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    exp = load_spec(args.spec)
    measure(f"check {args.spec}", check_report(exp, device="cpu"))
    if not args.skip_run:
        with tempfile.TemporaryDirectory() as out:
            ran = run_report(exp, device="cpu", budget=args.budget, out_dir=out, force=True)
        measure(f"run {args.spec} --budget {args.budget}", ran)


if __name__ == "__main__":
    main()
