"""nanoGPT-style GPT (karpathy/nanoGPT model.py) on a character stream.

Attention through `F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0,
is_causal=True)` (no mask buffer), bias-free Linear/LayerNorm-free config knobs, weight tying, GPT-2's scaled
init of the residual projections, `configure_optimizers` weight-decay groups by parameter dimension, and
nanoGPT's `get_lr` (linear warmup, cosine to lr/10) as a LambdaLR stepped every iteration. The batches are
non-overlapping windows of the stream (a fixed version of nanoGPT's random `get_batch` offsets).
"""

from __future__ import annotations

import _realcode as rc
import torch

import nnrecipe as nr

EXPECT = 'clean'

BLOCK_SIZE, BATCH_SIZE, EPOCHS = 48, 16, 20


def experiment() -> nr.Experiment:
    train, val, vocab_size = rc.char_stream(BLOCK_SIZE)
    config = rc.GPTConfig(block_size=BLOCK_SIZE, vocab_size=vocab_size, bias=False, flash=True)
    max_iters = EPOCHS * rc.steps_per_epoch(train, BATCH_SIZE)
    return nr.Experiment(
        name="nanogpt-sdpa", task="sequence", train=train, val=val,
        model=lambda: rc.GPT(config),
        optimizer=lambda params: rc.configure_optimizers(params, weight_decay=0.1, learning_rate=1e-3,
                                                         betas=(0.9, 0.99)),
        scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(
            opt, rc.warmup_cosine(warmup_iters=20, lr_decay_iters=max_iters)),
        scheduler_interval="step",
        batch_size=BATCH_SIZE, epochs=EPOCHS,
    )
