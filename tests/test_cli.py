"""The command line: exit codes, the JSON document, and one clear paragraph (no traceback) for bad specs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nnrecipe.cli import main

SPECS = Path(__file__).parent / "spec_files"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess: what a user sees, tracebacks included."""
    env_path = str(Path(__file__).parent)
    return subprocess.run([sys.executable, "-m", "nnrecipe.cli", *args], capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": env_path}, timeout=300)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("missing.py", ["does not exist"]),
        ("no_experiment.py", ["experiment()", "defines none"]),
        ("typo_field.py", ["unknown field 'bacth_size'", "did you mean 'batch_size'"]),
        ("wrong_task.py", ["'task'", "'classification'", "'detection'"]),
        ("factory_raises.py", ["'model'", "ValueError", "hidden size must be even"]),
        ("syntax_error.py", ["syntax error", "line 1"]),
        ("returns_dict.py", ["must return an nnrecipe.Experiment", "dict"]),
    ],
)
def test_bad_specs_exit_2_with_a_clear_message_and_no_traceback(spec: str, words: list[str]) -> None:
    proc = run_cli("check", str(SPECS / spec))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    message = " ".join(proc.stderr.split())
    for word in words:
        assert word in message


def test_debug_shows_the_traceback() -> None:
    proc = run_cli("check", str(SPECS / "typo_field.py"), "--debug")
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_unknown_builtin_suggests_a_name() -> None:
    proc = run_cli("check", "mnist1")
    assert proc.returncode == 2 and "did you mean 'mnist1d'" in " ".join(proc.stderr.split())


def test_usage_errors_exit_2() -> None:
    assert run_cli("check").returncode == 2
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("check", str(SPECS / "good.py"), "--device", "tpu").returncode == 2


def test_check_writes_the_json_document(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code = main(["check", str(SPECS / "good.py"), "--json", str(out), "--device", "cpu",
                 "--only", "init-loss,overfit-one-batch,loss-decreases"])
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["experiment"] == "good-spec" and doc["nnrecipe"]
    assert [c["id"] for c in doc["checks"]] == ["init-loss", "overfit-one-batch", "loss-decreases"]
    for c in doc["checks"]:
        assert c["stage"] == "skeleton" and c["status"] == "pass" and c["summary"] and isinstance(c["evidence"], dict)
    assert "steps" not in doc  # only `run` adds steps and scores


def test_a_failing_check_exits_1(tmp_path: Path) -> None:
    spec = tmp_path / "lr.py"
    spec.write_text("import torch, toy\n"
                    "def experiment():\n"
                    "    return toy.classification(optimizer=lambda p: torch.optim.Adam(p, lr=1e-8))\n")
    out = tmp_path / "r.json"
    assert main(["check", str(spec), "--json", str(out), "--only", "loss-decreases", "--device", "cpu"]) == 1
    assert json.loads(out.read_text())["checks"][0]["status"] == "fail"


def test_unknown_check_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SPECS / "good.py"), "--only", "init-los"]) == 2
    assert "did you mean 'init-loss'" in capsys.readouterr().err.replace("\n", " ")


def test_json_into_a_folder_is_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    keep = tmp_path / "keep.json"
    keep.write_text('{"precious": true}')
    assert main(["check", str(SPECS / "good.py"), "--json", str(tmp_path), "--only", "init-loss"]) == 2
    assert keep.read_text() == '{"precious": true}'


def test_version_and_list() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("nnrecipe ")
    listing = run_cli("list")
    assert listing.returncode == 0 and "init-loss" in listing.stdout and "mnist1d" in listing.stdout


def test_error_messages_with_brackets_print_as_they_are(tmp_path: Path) -> None:
    spec = tmp_path / "brackets.py"
    spec.write_text("import toy\n"
                    "def experiment():\n"
                    "    return toy.classification(task='[bold]detect[/bold]')\n")
    proc = run_cli("check", str(spec))
    assert proc.returncode == 2 and "'[bold]detect[/bold]'" in " ".join(proc.stderr.split())


def test_run_until_an_unknown_step_exits_2_and_names_the_steps() -> None:
    proc = run_cli("run", str(SPECS / "good.py"), "--until", "regularise")
    message = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and "did you mean 'regularize'" in message and "Traceback" not in proc.stderr
