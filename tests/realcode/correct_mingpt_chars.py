"""minGPT / nanoGPT-style character-level GPT (karpathy/minGPT `chargpt`, nanoGPT `shakespeare_char`).

Hand-written causal self-attention with a registered `tril` mask buffer, dropout 0.1 everywhere, the token
embedding tied to the lm_head, `forward(idx, targets=None) -> (logits, loss)`, AdamW with nanoGPT's weight-decay
groups (2D weights decay, biases and LayerNorm gains do not), and a warmup + cosine LambdaLR sized to the
planned iterations and stepped every iteration. Data: minGPT's CharDataset (every window of the text) over a
few thousand characters of standard-library prose, split 90/10 in reading order.
"""

from __future__ import annotations

import _realcode as rc
import torch

import nnrecipe as nr

EXPECT = 'clean'

BLOCK_SIZE, BATCH_SIZE, EPOCHS = 32, 32, 2


def experiment() -> nr.Experiment:
    train, val, vocab_size = rc.char_splits(BLOCK_SIZE)
    config = rc.GPTConfig(block_size=BLOCK_SIZE, vocab_size=vocab_size)
    max_iters = EPOCHS * rc.steps_per_epoch(train, BATCH_SIZE)
    return nr.Experiment(
        name="mingpt-chars", task="sequence", train=train, val=val,
        model=lambda: rc.GPT(config),
        loss=rc.flat_cross_entropy,
        optimizer=lambda params: rc.configure_optimizers(params, weight_decay=0.1, learning_rate=3e-3),
        scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(
            opt, rc.warmup_cosine(warmup_iters=max_iters // 10, lr_decay_iters=max_iters)),
        scheduler_interval="step",
        batch_size=BATCH_SIZE, epochs=EPOCHS,
    )
