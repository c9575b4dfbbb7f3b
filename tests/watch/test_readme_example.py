"""The README's "Watch a loop you already have" example, pasted into a file and run, writes its report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _section_code(title: str) -> str:
    section = README.read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def test_the_plain_loop_example_writes_report_and_result(tmp_path: Path) -> None:
    script = tmp_path / "my_loop.py"
    script.write_text(_section_code("Watch a loop you already have"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run = tmp_path / "runs" / "my-loop"
    document = json.loads((run / "result.json").read_text())
    assert document["command"] == "watch" and len(document["checks"]) == 8
    assert all(c["status"] == "pass" for c in document["checks"]), document["checks"]
    assert (run / "report.html").read_text().count("data:image/png") >= 3
    assert "pass  loss-decreases" in proc.stdout  # the example prints each check
    assert "nnrecipe.watch" in proc.stderr  # and its logging shows the watcher's lines
