"""makemore-style name model whose dataset writes y where x is: `y[1:1+len(ix)] = ix` (an off-by-one).

makemore writes `x[1:1+len(ix)] = ix; y[:len(ix)] = ix`: y is x shifted left by one. With the same slice for
both, each target is the character the model is already reading (and <END> lands one step late): a causal
model copies and its loss means nothing. Expected: `target-alignment` fails.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = {'fail': ['target-alignment']}


def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def experiment() -> nr.Experiment:
    train, val = rc.names_splits(target_offset=1)
    config = rc.GPTConfig(block_size=train.get_output_length(), vocab_size=train.get_vocab_size(), n_layer=2,
                          n_head=4, n_embd=48, dropout=0.0)
    return nr.Experiment(
        name="makemore-unshifted", task="sequence", train=train, val=val,
        model=lambda: rc.GPT(config),
        loss=loss,
        ignore_index=-1,
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3, weight_decay=0.01, betas=(0.9, 0.99),
                                                   eps=1e-8),
        batch_size=32, epochs=30,
    )
