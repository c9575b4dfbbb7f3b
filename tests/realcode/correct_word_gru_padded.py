"""A torchtext-tutorial-style sentence language model: one sentence per row as `<bos> words <eos> <pad>...`
with the tutorial's special ids (UNK_IDX, PAD_IDX, BOS_IDX, EOS_IDX = 0, 1, 2, 3), an embedding with
`padding_idx=PAD_IDX`, a batch-first GRU and a Linear decoder.

The loss is the tutorial's `nn.CrossEntropyLoss(ignore_index=PAD_IDX)` applied to the flattened positions
inside a lambda: the padding targets hold the pad id 1 (not a negative value) and no field declares it, so
the ignore index can only be found by probing the loss.
"""

from __future__ import annotations

import _realcode as rc
import torch
from torch import nn

import nnrecipe as nr

EXPECT = 'clean'


class SentenceLM(nn.Module):
    def __init__(self, vocab_size: int, emb_size: int = 32, hidden: int = 48) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_size, padding_idx=rc.PAD_IDX)
        self.gru = nn.GRU(emb_size, hidden, batch_first=True)
        self.generator = nn.Linear(hidden, vocab_size)

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        outs, _ = self.gru(self.embedding(src))
        return self.generator(outs)


def experiment() -> nr.Experiment:
    train, val, vocab_size = rc.padded_sentences()
    loss_fn = nn.CrossEntropyLoss(ignore_index=rc.PAD_IDX)
    return nr.Experiment(
        name="word-gru-padded", task="sequence", train=train, val=val,
        model=lambda: SentenceLM(vocab_size),
        loss=lambda logits, tgt: loss_fn(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1)),
        optimizer=lambda params: torch.optim.Adam(params, lr=2e-3, betas=(0.9, 0.98), eps=1e-9),
        batch_size=32, epochs=15,
    )
