"""An ensemble as one module: the members' predictions averaged, so it trains, evaluates and predicts like a model."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnrecipe.engine.outputs import forward
from nnrecipe.errors import UsageError


class Ensemble(nn.Module):
    """Averages its members: softmax probabilities for classification and sequences, outputs for regression.

    For classification and sequences the output is the log of the averaged probabilities: it works as logits
    (argmax, cross-entropy, softmax all give the ensemble's figures), so the ensemble trains, evaluates and
    predicts like any one model.
    """

    def __init__(self, members: Sequence[nn.Module], *, task: str) -> None:
        super().__init__()
        if not members:
            raise UsageError("Ensemble: expected at least one member, but got none")
        self.members = nn.ModuleList(members)
        self.task = task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = torch.stack([forward(m, x) for m in self.members])  # (K, B, ...)
        if self.task == "regression":
            return outputs.mean(dim=0)
        if outputs.dim() == 2 or outputs.shape[-1] == 1:  # one binary logit each: the logit of the mean probability
            log_p1 = torch.logsumexp(F.logsigmoid(outputs.float()), dim=0)
            log_p0 = torch.logsumexp(F.logsigmoid(-outputs.float()), dim=0)
            return log_p1 - log_p0
        # log(mean_k softmax(out_k)) computed stably: logsumexp_k(log_softmax(out_k)) - log K
        log_probs = torch.log_softmax(outputs.float(), dim=-1)
        return torch.logsumexp(log_probs, dim=0) - torch.log(torch.tensor(float(len(self.members))))
