"""minGPT-style character GPT whose CharDataset returns `y = dix[:-1]` instead of `y = dix[1:]`.

The targets are the inputs themselves: the (causal, correct) model learns to copy the current character and
its loss falls to zero without learning anything. Expected: `target-alignment` fails.
"""

from __future__ import annotations

import _realcode as rc
import torch

import nnrecipe as nr

EXPECT = {'fail': ['target-alignment']}

BLOCK_SIZE, BATCH_SIZE, EPOCHS = 32, 32, 2


def experiment() -> nr.Experiment:
    train, val, vocab_size = rc.char_splits(BLOCK_SIZE, shift=0)
    config = rc.GPTConfig(block_size=BLOCK_SIZE, vocab_size=vocab_size)
    max_iters = EPOCHS * rc.steps_per_epoch(train, BATCH_SIZE)
    return nr.Experiment(
        name="mingpt-unshifted-targets", task="sequence", train=train, val=val,
        model=lambda: rc.GPT(config),
        loss=rc.flat_cross_entropy,
        optimizer=lambda params: rc.configure_optimizers(params, weight_decay=0.1, learning_rate=3e-3),
        scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(
            opt, rc.warmup_cosine(warmup_iters=max_iters // 10, lr_decay_iters=max_iters)),
        scheduler_interval="step",
        batch_size=BATCH_SIZE, epochs=EPOCHS,
    )
