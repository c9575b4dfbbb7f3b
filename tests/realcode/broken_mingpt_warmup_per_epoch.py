"""minGPT-style character GPT whose warmup + cosine schedule is sized in iterations but stepped per epoch.

nanoGPT's get_lr counts iterations (warmup_iters=100, lr_decay_iters=1000); wrapped in a LambdaLR and left at
the default once-per-epoch stepping (a Lightning/Keras habit), the schedule advances 2 ticks in the whole
budget: the model trains at 1-3% of its learning rate throughout and never leaves the warmup. Expected:
`lr-schedule` fails (the lr never reaches the peak the schedule was written for).
"""

from __future__ import annotations

import _realcode as rc
import torch

import nnrecipe as nr

EXPECT = {'fail': ['lr-schedule']}

BLOCK_SIZE, BATCH_SIZE, EPOCHS = 32, 32, 2


def experiment() -> nr.Experiment:
    train, val, vocab_size = rc.char_splits(BLOCK_SIZE)
    config = rc.GPTConfig(block_size=BLOCK_SIZE, vocab_size=vocab_size)
    return nr.Experiment(
        name="mingpt-warmup-per-epoch", task="sequence", train=train, val=val,
        model=lambda: rc.GPT(config),
        loss=rc.flat_cross_entropy,
        optimizer=lambda params: rc.configure_optimizers(params, weight_decay=0.1, learning_rate=3e-3),
        scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(
            opt, rc.warmup_cosine(warmup_iters=100, lr_decay_iters=1000)),
        scheduler_interval="epoch",  # the bug: the lambda counts iterations
        batch_size=BATCH_SIZE, epochs=EPOCHS,
    )
