"""Reduced input resolution: the bottom rung of step 3's ladder for signals and images.

"Complexify only one at a time ... if you have image input, start with small image resolution, then increase"
(the recipe). A model at reduced resolution sees each input average-pooled by a factor and stretched back to
its size (nearest neighbour): the same shapes reach the same architecture, with less detail in them, so the
next rung (full resolution, nothing else changed) shows what the detail is worth to fitting the training set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nnrecipe.experiment import Experiment

#: the data kinds (Experiment.kind) whose inputs have a resolution: signals (..., L), images (..., H, W)
KINDS = ("signal", "image")


def resolution_applies(exp: Experiment) -> bool:
    return exp.kind in KINDS


def reduce_resolution(x: torch.Tensor, factor: int, *, kind: str) -> torch.Tensor:
    """`x` average-pooled by `factor` over its last dimension (signals) or last two (images), stretched back."""
    if factor <= 1:
        return x
    if kind == "signal":
        flat = x.reshape(-1, 1, x.shape[-1])  # (N, 1, L)
        pooled = F.avg_pool1d(flat, factor, ceil_mode=True)
        return F.interpolate(pooled, size=x.shape[-1], mode="nearest").reshape(x.shape)
    flat = x.reshape(-1, 1, *x.shape[-2:])  # (N, 1, H, W)
    pooled = F.avg_pool2d(flat, factor, ceil_mode=True)
    return F.interpolate(pooled, size=x.shape[-2:], mode="nearest").reshape(x.shape)


class ReducedResolution(nn.Module):
    """`model` fed its inputs at 1/`factor` of their resolution."""

    def __init__(self, model: nn.Module, factor: int, *, kind: str) -> None:
        super().__init__()
        self.model, self.factor, self.kind = model, factor, kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(reduce_resolution(x, self.factor, kind=self.kind))
