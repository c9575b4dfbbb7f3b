"""The package surface: a cheap import, the public names, the console entry point."""

from __future__ import annotations

import subprocess
import sys

import nnrecipe


def test_import_does_no_heavy_work() -> None:
    code = "import sys, nnrecipe; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_public_names_resolve() -> None:
    for name in nnrecipe.__all__:
        assert getattr(nnrecipe, name) is not None


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run([sys.executable, "-m", "nnrecipe", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and nnrecipe.__version__ in proc.stdout
