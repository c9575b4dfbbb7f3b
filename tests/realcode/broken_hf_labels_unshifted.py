"""Hugging Face-style causal LM trained on `labels = input_ids` without the shift.

transformers' collators set `labels = input_ids.clone()` because the model shifts inside its loss
(`logits[..., :-1]` against `labels[..., 1:]`). This setup feeds those labels to a loss that does not shift:
every target is the token at its own position, which the causal model reads. Expected: `target-alignment`
fails.
"""

from __future__ import annotations

import functools

import _realcode as rc
import torch

import nnrecipe as nr

EXPECT = {'fail': ['target-alignment']}


def experiment() -> nr.Experiment:
    train, val = rc.line_splits(shift_labels=False)
    config = rc.TinyLMConfig(vocab_size=train.vocab_size, n_positions=train.length)
    return nr.Experiment(
        name="hf-labels-unshifted", task="sequence", train=train, val=val,
        model=lambda: rc.TinyForCausalLM(config),
        loss=functools.partial(rc.flat_cross_entropy, ignore_index=-100),
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3, weight_decay=0.01),
        batch_size=16, epochs=30,
    )
