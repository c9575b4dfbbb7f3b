"""Hugging Face-style causal LM: a config dataclass, `model(input_ids, labels=None)` returning a
`CausalLMOutput` with `.logits`, pre-LN decoder layers over `nn.MultiheadAttention` with a boolean causal
mask, `post_init` weight init, and labels padded with -100 (the transformers convention).

One line of text per row (the Zen of Python and some docstrings, character-level), padded with the pad id;
the dataset aligns the labels with the logits (input_ids[:-1], labels[1:]). The loss is
`functools.partial(lm_loss, ignore_index=-100)`: the ignore index is read from the partial. AdamW with a
linear warmup then linear decay (transformers' get_linear_schedule_with_warmup) stepped per step.
"""

from __future__ import annotations

import functools

import _realcode as rc
import torch

import nnrecipe as nr

EXPECT = 'clean'

BATCH_SIZE, EPOCHS = 16, 30


def linear_schedule_with_warmup(num_warmup_steps: int, num_training_steps: int):  # noqa: ANN201
    def lr_lambda(current_step: int) -> float:
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))

    return lr_lambda


def experiment() -> nr.Experiment:
    train, val = rc.line_splits()
    config = rc.TinyLMConfig(vocab_size=train.vocab_size, n_positions=train.length)
    total = EPOCHS * rc.steps_per_epoch(train, BATCH_SIZE)
    return nr.Experiment(
        name="hf-causal-lm", task="sequence", train=train, val=val,
        model=lambda: rc.TinyForCausalLM(config),
        loss=functools.partial(rc.flat_cross_entropy, ignore_index=-100),
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3, weight_decay=0.01),
        scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule_with_warmup(10, total)),
        scheduler_interval="step",
        batch_size=BATCH_SIZE, epochs=EPOCHS,
    )
