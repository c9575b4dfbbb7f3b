"""nanoGPT-style GPT whose attention passes `dropout_p=self.dropout` to scaled_dot_product_attention always.

nanoGPT writes `dropout_p=self.dropout if self.training else 0`; a port that drops the condition keeps the
attention dropout on in `model.eval()` (SDPA is a function: `.eval()` cannot reach it), so every evaluation
is noisy and lower than the model is. Expected: `eval-determinism` fails.
"""

from __future__ import annotations

import _realcode as rc
import torch

import nnrecipe as nr

EXPECT = {'fail': ['eval-determinism']}

BLOCK_SIZE, BATCH_SIZE, EPOCHS = 48, 16, 20


def experiment() -> nr.Experiment:
    train, val, vocab_size = rc.char_stream(BLOCK_SIZE)
    config = rc.GPTConfig(block_size=BLOCK_SIZE, vocab_size=vocab_size, bias=False, flash=True,
                          dropout_always=True)
    max_iters = EPOCHS * rc.steps_per_epoch(train, BATCH_SIZE)
    return nr.Experiment(
        name="nanogpt-dropout-at-eval", task="sequence", train=train, val=val,
        model=lambda: rc.GPT(config),
        optimizer=lambda params: rc.configure_optimizers(params, weight_decay=0.1, learning_rate=1e-3,
                                                         betas=(0.9, 0.99)),
        scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(
            opt, rc.warmup_cosine(warmup_iters=20, lr_decay_iters=max_iters)),
        scheduler_interval="step",
        batch_size=BATCH_SIZE, epochs=EPOCHS,
    )
