"""The integrations cost nothing until asked for, and name their extra when it is missing."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_nnrecipe_and_its_public_api_imports_no_trainer_library() -> None:
    code = ("import sys, nnrecipe as nr; nr.watch; nr.testing.assert_checks; nr.Experiment.from_lightning; "
            "print(sorted(m for m in ('lightning', 'pytorch_lightning', 'transformers', 'accelerate') "
            "if m in sys.modules))")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_missing_trainer_library_names_the_extra_to_install() -> None:
    for module, extra, blocked in (("lightning", "lightning", "lightning"), ("hf", "hf", "transformers")):
        code = (f"import sys; sys.modules[{blocked!r}] = None\n"  # as if it were not installed
                f"try:\n    import nnrecipe.integrations.{module}\n"
                "except ImportError as exc:\n    print(exc)")
        proc = _run(code)
        assert f'pip install "nnrecipe[{extra}]"' in proc.stdout, proc.stdout + proc.stderr
