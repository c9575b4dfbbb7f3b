"""makemore-style name model (karpathy/makemore, `--type transformer`) with padded targets.

One name per row: x = <START> + name, y = name + <END>, and every position of y after the end is -1, which
`F.cross_entropy(..., ignore_index=-1)` skips. The model is makemore's Transformer (the minGPT block, no
dropout) returning `(logits, loss)`; AdamW as makemore builds it. The ignore index is declared with the
Experiment's `ignore_index=-1` field.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = 'clean'


def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def experiment() -> nr.Experiment:
    train, val = rc.names_splits()
    config = rc.GPTConfig(block_size=train.get_output_length(), vocab_size=train.get_vocab_size(), n_layer=2,
                          n_head=4, n_embd=48, dropout=0.0)
    return nr.Experiment(
        name="makemore-transformer", task="sequence", train=train, val=val,
        model=lambda: rc.GPT(config),
        loss=loss,
        ignore_index=-1,
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3, weight_decay=0.01, betas=(0.9, 0.99),
                                                   eps=1e-8),
        batch_size=32, epochs=30,
    )
