"""pytorch/examples word_language_model: a word-level LSTM language model, PTB-style, on standard-library
docstrings (the corpus is one token stream, '<eos>' after each line, rare words as '<unk>').

The example's RNNModel (embedding, dropout, a 2-layer LSTM with dropout between layers, dropout, decoder, the
decoder tied to the embedding, uniform(-0.1, 0.1) init, `log_softmax` out) made batch-first; the loss is
`nll_loss` over the flattened positions; the step is the example's own: `model.zero_grad()`, backward,
`clip_grad_norm_(model.parameters(), 0.25)`, and the hand-written SGD update `p.data.add_(p.grad, alpha=-lr)`.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F

import nnrecipe as nr

EXPECT = 'clean'

LR, CLIP = 5.0, 0.25


def criterion(output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.nll_loss(output.reshape(-1, output.size(-1)), targets.reshape(-1))


def train_step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor], optimizer: object
               ) -> torch.Tensor:
    data, targets = batch
    model.zero_grad()
    output = model(data)
    loss = criterion(output, targets)
    loss.backward()
    # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    for p in model.parameters():
        p.data.add_(p.grad, alpha=-LR)  # type: ignore[arg-type]
    return loss


def experiment() -> nr.Experiment:
    train, val, ntokens = rc.word_corpus(bptt=20)
    return nr.Experiment(
        name="word-lstm-lm", task="sequence", train=train, val=val,
        model=lambda: rc.RNNModel("LSTM", ntokens, 64, 64, 2, dropout=0.2, tie_weights=True),
        loss=criterion,
        train_step=train_step,
        batch_size=20, epochs=6,
    )
