"""One seed for every random source, and a guard that leaves the user's global random state as found."""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")


def derive_seed(seed: int, *names: object) -> int:
    """A stable 31-bit seed for one named use of the experiment's seed (same inputs, same seed, any process)."""
    digest = hashlib.sha256(repr((seed, *names)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)  # also seeds every CUDA device


@contextlib.contextmanager
def preserved_random_state() -> Iterator[None]:
    """Run a block with any seeding it likes; python, numpy and torch RNG states are put back after."""
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.random.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.random.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed everything for the block, then restore the global random state as it was."""
    with preserved_random_state():
        seed_everything(seed)
        yield


def same_draws(run: Callable[[], T], device: torch.device) -> T:
    """`run()` under a fixed random state (the caller's state restored afterwards), so that two calls draw the same
    dropout masks: in train mode, or with dropout left on at eval, randomness is then never read as a dependence."""
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(0)
        return run()
