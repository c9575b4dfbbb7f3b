"""Wine with a second annotation that agrees with the labels no better than chance (the annotators saw other
samples than the ones they were matched to)."""

from __future__ import annotations

import _zoo
import torch

EXPECT = {'warn': ['human-baseline']}


def experiment():
    train, val = _zoo.wine()
    human = torch.roll(val.tensors[1][:40], shifts=7)  # each sample gets another sample's label
    return _zoo.experiment("wine-human-mismatched", "classification", (train, val), lambda: _zoo.mlp(13, 3),
                           human_labels=human.tolist())
