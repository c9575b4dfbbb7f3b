"""The realcode corpus: correct training setups written the way public repositories write them (minGPT,
makemore, pytorch/examples, Hugging Face-style models, ...), each with broken twins where a recipe bug applies.

A correct setup must get no fail, no error and at most one warn (a false alarm on code like this is what
users meet first); a broken twin must get the status its EXPECT names. benchmarks/zoo.py prints the same
table with timings, the false-alarm rate and the warns per correct setup (`--corpus realcode`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import zoo  # noqa: E402  (benchmarks/zoo.py: the corpora's runner and its verdict)

SPECS = zoo.realcode_specs()
MAX_WARNS = zoo.MAX_WARNS["realcode"]


def test_the_realcode_corpus_is_big_enough() -> None:
    broken = [p for p in SPECS if zoo.expectation(p) != "clean"]
    correct = [p for p in SPECS if zoo.expectation(p) == "clean"]
    assert len(correct) >= 14 and len(broken) >= 12
    assert all(p.stem.startswith(("correct_", "broken_")) for p in SPECS)
    assert all((zoo.expectation(p) == "clean") == p.stem.startswith("correct_") for p in SPECS)


def test_realcode_names_do_not_shadow_zoo_specs() -> None:
    """Both corpora's folders go on sys.path when their specs load: a shared name would import the wrong one."""
    assert not {p.stem for p in SPECS} & {p.stem for p in zoo.zoo_specs()}


@pytest.mark.slow
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_realcode_spec(path: Path) -> None:
    statuses, _, summaries = zoo.run(path)
    ok, lines = zoo.verdict(zoo.expectation(path), statuses, MAX_WARNS)
    assert ok, "; ".join(lines) + " | " + "; ".join(f"{k} ({statuses[k]}): {summaries[k]}" for k in statuses
                                                      if statuses[k] in ("fail", "error", "warn"))


#: correct setups that also go through the whole recipe (small ones: a char GPT's whole quick run takes over 15
#: minutes on two cores): a one-logit BCE table, a Huber regression with SGD momentum and MultiStepLR, and a
#: dict-returning digits CNN trained with label smoothing
RUN_WHOLE = ["correct_bce_scaler_breast_cancer", "correct_diabetes_huber", "correct_dict_output_digits"]


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("name", RUN_WHOLE)
def test_a_quick_run_passes_every_gate_on_real_code(name: str, tmp_path: Path) -> None:
    import nnrecipe as nr
    from nnrecipe.steps.pipeline import run_pipeline

    exp = nr.load_spec(str(Path(zoo.CORPORA["realcode"]) / f"{name}.py"))
    result = run_pipeline(exp, device="cpu", budget="quick", out_dir=tmp_path)
    assert [s.step for s in result.steps] == ["data", "skeleton", "overfit", "regularize", "tune", "squeeze"]
    assert all(s.status != "fail" for s in result.steps), [(s.step, s.status, s.summary) for s in result.steps]
    assert not [c.id for c in result.checks if c.status in ("fail", "error")]
    assert result.scores["val"] and result.baseline
