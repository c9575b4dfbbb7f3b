"""Hugging Face: the callback inside a real `Trainer.train` of a tiny GPT-2 built from its config (nothing is
downloaded)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
from torch.utils.data import Dataset

from nnrecipe.integrations.hf import RecipeCallback

VOCAB, LENGTH = 64, 32


class Progressions(Dataset):
    """Arithmetic progressions modulo the vocabulary: each next token follows from the two before it."""

    def __init__(self, n: int, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        start, step = torch.randint(0, VOCAB, (n, 1), generator=gen), torch.randint(1, 5, (n, 1), generator=gen)
        self.ids = (start + step * torch.arange(LENGTH)) % VOCAB

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


@pytest.fixture(autouse=True)
def _quiet() -> None:
    transformers.logging.set_verbosity_error()
    logging.getLogger("accelerate").setLevel(logging.ERROR)


def _train(tmp_path: Path, callback: RecipeCallback, *others: transformers.TrainerCallback, **overrides: Any) -> None:
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=VOCAB, n_positions=LENGTH)
    model = transformers.GPT2LMHeadModel(config)  # built from the config: no download
    settings: dict[str, Any] = dict(output_dir=str(tmp_path / "hf"), max_steps=120, per_device_train_batch_size=16,
                                    learning_rate=3e-3, warmup_steps=10, logging_steps=4, eval_strategy="steps",
                                    eval_steps=20, per_device_eval_batch_size=64, save_strategy="no", report_to=[],
                                    use_cpu=True, disable_tqdm=True, seed=0, dataloader_num_workers=0)
    settings.update(overrides)
    trainer = transformers.Trainer(model=model, args=transformers.TrainingArguments(**settings),
                                   train_dataset=Progressions(512, seed=1), eval_dataset=Progressions(128, seed=2),
                                   callbacks=[callback, *others])
    trainer.train()


def test_a_healthy_train_gets_no_fail_and_no_warn(tmp_path: Path) -> None:
    callback = RecipeCallback(out=tmp_path / "run")
    _train(tmp_path, callback)
    result = callback.result
    assert result is not None
    assert {c.id: c.summary for c in result.checks if c.status in ("warn", "fail", "error")} == {}
    document = json.loads((tmp_path / "run" / "result.json").read_text())
    assert document["command"] == "watch" and document["experiment"] == "GPT2LMHeadModel"
    assert document["watch"]["planned_steps"] == 120 and document["watch"]["losses"] == 30
    assert result.check("input-stats").evidence["integer"]  # the dict batch's input_ids
    assert result.check("lr-schedule").status == "pass" and result.check("overfitting").status == "pass"
    assert (tmp_path / "run" / "report.html").exists()


def test_a_train_with_the_lr_far_off_gets_the_right_check(tmp_path: Path) -> None:
    callback = RecipeCallback(out=tmp_path / "run")
    _train(tmp_path, callback, learning_rate=1e-8, max_steps=60, eval_strategy="no")
    assert callback.result is not None
    check = callback.result.check("loss-decreases")
    assert check.status == "fail" and "flat" in check.summary


def test_used_as_a_context_manager_an_exception_still_writes_the_files(tmp_path: Path) -> None:
    class Boom(transformers.TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == 30:
                raise RuntimeError("boom at step 30")

    with pytest.raises(RuntimeError, match="boom"), RecipeCallback(out=tmp_path / "run") as callback:
        _train(tmp_path, callback, Boom(), eval_strategy="no")
    document = json.loads((tmp_path / "run" / "result.json").read_text())
    assert document["watch"]["interrupted"] == "RuntimeError: boom at step 30"
