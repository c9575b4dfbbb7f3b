"""locuslab/TCN's character-level model: causal dilated convolutions written the TCN way (Conv1d padded by
(k-1)*dilation on both sides, then `Chomp1d` cuts the padding off the end), weight_norm on the convs (the
torch.nn.utils.parametrizations version), residual blocks with dilations 1, 2, 4, on a character stream.
Adam with the TCN repo's gradient clipping (0.15) in a custom step.
"""

from __future__ import annotations

import _realcode as rc
import torch

import nnrecipe as nr

EXPECT = 'clean'

CLIP = 0.15


def train_step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor],
               optimizer: torch.optim.Optimizer) -> torch.Tensor:
    x, y = batch
    optimizer.zero_grad()
    output = model(x)
    loss = rc.flat_cross_entropy(output, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    optimizer.step()
    return loss


def experiment() -> nr.Experiment:
    train, val, vocab_size = rc.char_stream(48)
    return nr.Experiment(
        name="tcn-chars", task="sequence", train=train, val=val,
        model=lambda: rc.TCNLanguageModel(vocab_size),
        optimizer=lambda params: torch.optim.Adam(params, lr=4e-3),
        train_step=train_step,
        batch_size=16, epochs=20,
    )
