"""What a model's forward returns, read the way real code writes it.

Models written by others rarely return a bare tensor: minGPT and nanoGPT return `(logits, loss)`, Hugging Face
models a `ModelOutput` with `.logits`, others a dict. nnrecipe reads the prediction out of each of these in one
place, so every check and every training step sees the same tensor the user's loss is written for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nnrecipe.errors import SpecError

#: keys (or attributes) that name the prediction in a dict-like output, in the order they are tried
OUTPUT_KEYS = ("logits", "output", "outputs", "prediction", "predictions", "y_hat", "out")


def prediction(raw: Any) -> torch.Tensor:
    """The prediction tensor in what a forward returned: the tensor itself, the first tensor of a tuple or
    list (`(logits, loss)`), or the `logits`-like entry of a dict or a `ModelOutput`."""
    if isinstance(raw, torch.Tensor):
        return raw
    if isinstance(raw, (tuple, list)) and raw and isinstance(raw[0], torch.Tensor):
        return raw[0]
    for key in OUTPUT_KEYS:
        value = raw.get(key) if isinstance(raw, Mapping) else getattr(raw, key, None)
        if isinstance(value, torch.Tensor):
            return value
    raise SpecError(
        f"the model's forward returned {_describe(raw)}; expected a tensor of predictions, a tuple whose first "
        f"item is that tensor (like `(logits, loss)`), or a dict / ModelOutput with one of the keys "
        f"{', '.join(OUTPUT_KEYS)}"
    )


def forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`model(x)`, reduced to its prediction tensor."""
    return prediction(model(x))


def output_space(out: torch.Tensor, task: str, num_classes: int | None) -> str:
    """What a fresh model's outputs are: "logits", "log-probabilities" (a model ending in log_softmax),
    "probabilities" (ending in softmax), "binary-logit" (one logit per sample for two classes), or "values"."""
    if task == "regression":
        return "values"
    if num_classes == 2 and (out.dim() == 1 or out.shape[-1] == 1):
        return "binary-logit"
    flat = out.detach().float().reshape(-1, out.shape[-1])
    if bool((flat.logsumexp(-1).abs() < 1e-3).all()):
        return "log-probabilities"
    if bool((flat >= 0).all()) and bool(((flat.sum(-1) - 1).abs() < 1e-3).all()):
        return "probabilities"
    return "logits"


def expected_output_shape(task: str, y: torch.Tensor, num_classes: int | None) -> list[int]:
    """(B, C) logits for C classes, (B, T, V) for sequences, the target's own shape for regression."""
    if task == "regression":
        return list(y.shape)
    return [*y.shape, num_classes or 0]


def one_binary_logit(task: str, got: list[int], want: list[int]) -> bool:
    """Two classes as one logit per sample: (B,) or (B, 1) where (B, 2) is expected."""
    return task == "classification" and want[-1] == 2 and got in (want[:-1], [*want[:-1], 1])


def _describe(raw: Any) -> str:
    if isinstance(raw, (tuple, list)):
        inner = ", ".join(type(v).__name__ for v in raw[:4])
        return f"a {type(raw).__name__} of ({inner}{', ...' if len(raw) > 4 else ''})"
    if isinstance(raw, Mapping):
        return f"a {type(raw).__name__} with keys {list(raw)[:6]}"
    return f"a {type(raw).__name__}"
