"""A classifier whose forward returns a dict (the timm `forward_features` / metric-learning style):
`{"logits": ..., "embedding": ...}`, the embedding L2-normalized for retrieval beside the class scores.
Its training loss is written for the logits; nnrecipe reads the `logits` entry. Standardized digits, a
small convnet trunk, AdamW with a OneCycleLR sized to epochs x steps per epoch, stepped per step.
"""

from __future__ import annotations

import _realcode as rc
import torch
import torch.nn.functional as F
from torch import nn

import nnrecipe as nr

EXPECT = 'clean'

BATCH_SIZE, EPOCHS = 64, 8


class EmbeddingNet(nn.Module):
    def __init__(self, dim: int = 32, num_classes: int = 10) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                   nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                   nn.Flatten(), nn.Linear(32, dim))
        self.classifier = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.trunk(x)
        return {"logits": self.classifier(features), "embedding": F.normalize(features, dim=-1)}


def experiment() -> nr.Experiment:
    train, val = rc.digits_images()
    total_steps = EPOCHS * rc.steps_per_epoch(train, BATCH_SIZE)
    return nr.Experiment(
        name="dict-output-digits", task="classification", train=train, val=val,
        model=EmbeddingNet,
        loss=lambda logits, y: F.cross_entropy(logits, y, label_smoothing=0.1),
        optimizer=lambda params: torch.optim.AdamW(params, lr=3e-3, weight_decay=0.05),
        scheduler=lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=total_steps),
        scheduler_interval="step",
        batch_size=BATCH_SIZE, epochs=EPOCHS,
    )
