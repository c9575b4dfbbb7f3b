"""minGPT-style character GPT whose attention never applies its causal mask.

The `tril` buffer is registered but the `att.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))` line is
missing (a refactor that dropped it, or a port from an encoder): every position attends to the whole window,
so the next token is visible and the training loss means nothing. Expected: `causal` fails.
"""

from __future__ import annotations

import _realcode as rc
import torch

import nnrecipe as nr

EXPECT = {'fail': ['causal']}

BLOCK_SIZE, BATCH_SIZE, EPOCHS = 32, 32, 2


def experiment() -> nr.Experiment:
    train, val, vocab_size = rc.char_splits(BLOCK_SIZE)
    config = rc.GPTConfig(block_size=BLOCK_SIZE, vocab_size=vocab_size, masked=False)
    max_iters = EPOCHS * rc.steps_per_epoch(train, BATCH_SIZE)
    return nr.Experiment(
        name="mingpt-no-mask", task="sequence", train=train, val=val,
        model=lambda: rc.GPT(config),
        loss=rc.flat_cross_entropy,
        optimizer=lambda params: rc.configure_optimizers(params, weight_decay=0.1, learning_rate=3e-3),
        scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(
            opt, rc.warmup_cosine(warmup_iters=max_iters // 10, lr_decay_iters=max_iters)),
        scheduler_interval="step",
        batch_size=BATCH_SIZE, epochs=EPOCHS,
    )
