"""Choosing the device: `auto` means CUDA when available, else CPU."""

from __future__ import annotations

import torch

from nnrecipe.errors import UsageError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name}: expected a machine with a CUDA GPU, but torch sees none; use cpu or auto")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise UsageError(f"device: expected one of {', '.join(DEVICES)}, but got {name!r}")
