"""Small helpers several step-2 checks share: datasets with transformed inputs, baselines of the data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import Dataset, TensorDataset

from nnrecipe.engine.data import tensors_of
from nnrecipe.engine.targets import labelled


class _MappedInputs(Dataset):
    def __init__(self, ds: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.ds, self.fn = ds, fn

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        x, y = self.ds[i]
        return self.fn(torch.as_tensor(x)), y


def map_inputs(ds: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """`ds` with `fn` applied to every input (tensor-backed datasets stay tensor-backed, and fast)."""
    tensors = tensors_of(ds)
    if tensors is not None:
        return TensorDataset(fn(tensors[0]), tensors[1])
    return _MappedInputs(ds, fn)


def majority_scores(train_targets: torch.Tensor, val_targets: torch.Tensor, task: str,
                    num_classes: int | None, ignore: int | None = None) -> dict[str, float]:
    """The scores of a predictor that ignores its input: the majority class / the prior, or the mean.
    Targets holding the ignore index (padding) are left out."""
    if task == "regression":
        mean = train_targets.float().mean(0, keepdim=True)
        diff = val_targets.float() - mean
        return {"mse": float((diff**2).mean()), "mae": float(diff.abs().mean()), "loss": float((diff**2).mean())}
    assert num_classes is not None
    train = train_targets.reshape(-1).long()
    train = train[labelled(train, ignore) & (train >= 0) & (train < num_classes)]
    counts = torch.bincount(train, minlength=num_classes).double()
    prior = (counts / counts.sum()).clamp_min(1e-12)
    val = val_targets.reshape(-1).long()
    val = val[labelled(val, ignore) & (val >= 0) & (val < num_classes)]
    val_counts = torch.bincount(val, minlength=num_classes).double()
    # the best any input-free guess could score here, its class chosen with hindsight of the validation labels
    best_constant = float(val_counts.max() / val_counts.sum().clamp_min(1))
    return {"accuracy": float((val == int(counts.argmax())).double().mean()),
            "loss": float(-prior.log()[val].mean()), "best_constant_accuracy": best_constant}
