"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), with a small 2-D conv net.

Inputs are float32 tensors of shape (1, 8, 8): pixel values 0-16 scaled to [0, 1], then standardized with
the training split's mean and std. Splits: 60/20/20, stratified, fixed seed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from nnrecipe.builtin._common import fraction_sizes, quiet_head, scaled, standardizer, stratified_split, tensor_dataset
from nnrecipe.experiment import Experiment

CLASSES = 10
SPLIT_SEED = 0
DEFAULT_DEPTH = 2
BASE_CHANNELS = 16
MAX_SHIFT = 1  # pixels: an 8x8 digit moved by one pixel is still the same digit


@functools.lru_cache(maxsize=1)
def _arrays() -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_val, y_val, x_test, y_test), standardized; made once per process."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8)
    y = digits.target.astype(np.int64)
    train, val, test = stratified_split(y, fraction_sizes(len(y), (0.6, 0.2, 0.2)), seed=SPLIT_SEED)
    mean, std = standardizer(x[train], axis=None)

    def norm(a: np.ndarray) -> np.ndarray:
        return ((a - mean) / std).astype(np.float32)

    return norm(x[train]), y[train], norm(x[val]), y[val], norm(x[test]), y[test]


class ConvNet2d(nn.Module):
    """conv-BN-ReLU blocks at 8x8 (the second halves the size), then a linear head over the flattened map.

    No global pooling: at 8x8 where a stroke sits is most of what tells the digits apart.
    """

    def __init__(self, *, width: float = 1.0, depth: int = DEFAULT_DEPTH, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for i in range(depth):
            c_out = scaled(BASE_CHANNELS * 2 ** min(i, 2), width)
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2 if i == 1 else 1, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = 8 // 2 if depth >= 2 else 8
        self.head = quiet_head(nn.Linear(c_in * side * side, CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, C, H', W')
        return self.head(h.flatten(1))  # (B, classes)


def model_family(width: float = 1.0, depth: int | None = None, dropout: float = 0.0) -> Callable[[], nn.Module]:
    """A factory of ConvNet2d: `width` scales the channels, `depth` is the number of conv blocks."""
    return functools.partial(ConvNet2d, width=width, depth=DEFAULT_DEPTH if depth is None else depth, dropout=dropout)


def batch_augment(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random shifts of up to MAX_SHIFT pixels in each direction, filled with the background value (labels kept)."""
    batch = x.shape[0]
    background = x.amin()
    padded = nn.functional.pad(x, (MAX_SHIFT,) * 4, value=float(background))  # (B, 1, 8+2s, 8+2s)
    dy = torch.randint(0, 2 * MAX_SHIFT + 1, (batch,), generator=generator)
    dx = torch.randint(0, 2 * MAX_SHIFT + 1, (batch,), generator=generator)
    size = x.shape[-1]
    rows = (dy[:, None] + torch.arange(size)[None]).view(batch, 1, size, 1).expand(batch, x.shape[1], size, padded.shape[-1])
    shifted = torch.gather(padded, 2, rows)  # (B, 1, 8, 8+2s)
    cols = (dx[:, None] + torch.arange(size)[None]).view(batch, 1, 1, size).expand(batch, x.shape[1], size, size)
    return torch.gather(shifted, 3, cols), y


def experiment() -> Experiment:
    x_train, y_train, x_val, y_val, x_test, y_test = _arrays()
    as_ds = functools.partial(tensor_dataset, x_dtype=torch.float32, y_dtype=torch.int64)
    return Experiment(
        name="digits",
        task="classification",
        train=as_ds(x_train, y_train),
        val=as_ds(x_val, y_val),
        test=as_ds(x_test, y_test),
        model=model_family(),
        batch_size=64,
        epochs=30,
        num_classes=CLASSES,
        class_names=[str(i) for i in range(CLASSES)],
        seed=0,
        meta={
            "kind": "image",
            "description": "scikit-learn's 8x8 handwritten digits: 1,797 grey images of 10 classes.",
            "reference": {},
            "model_family": model_family,
            "batch_augment": batch_augment,
            "image_shape": (1, 8, 8),
        },
    )
