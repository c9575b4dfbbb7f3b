"""What a check is given: the experiment, the device, the seed and a cache of work that checks share.

Two views of it, as protocols: a data check reads a `DataContext` (the data, the seed, the shared cache: an
experiment's `CheckContext`, or the `AuditContext` of a path given to `nnrecipe audit`); a model check reads a
`ModelContext` (a `CheckContext`). Several step-2 checks read the same short training run;
`ctx.shared(key, compute)` makes sure it runs once. Models always come fresh from the user's factory: nnrecipe
never touches a model the user holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from nnrecipe.engine.data import (
    Batch,
    LossFn,
    class_prior,
    ignore_index,
    infer_num_classes,
    loss_fn,
    make_optimizer,
    take,
)
from nnrecipe.experiment import Experiment
from nnrecipe.seeding import derive_seed, seeded

T = TypeVar("T")

BUDGETS = ("quick", "default", "long")


class DataContext(Protocol):
    """What a data check reads: the data (through `nnrecipe.checks.data.common.profile_of`), the seed that draws
    its samples, and the cache the data checks share (the one streaming profile is built once)."""

    @property
    def seed(self) -> int | None: ...

    @property
    def blocked(self) -> str | None:
        """Why the model checks that need the loss cannot run (see engine.preflight); None for a data audit."""
        ...

    def shared(self, key: str, compute: Callable[[], T]) -> T: ...


class ModelContext(DataContext, Protocol):
    """What a model check reads: the experiment, the device, fresh seeded models, batches and the shared cache."""

    @property
    def experiment(self) -> Experiment: ...

    @property
    def device(self) -> torch.device: ...

    @property
    def budget(self) -> str: ...

    @property
    def task(self) -> str: ...

    @property
    def num_classes(self) -> int | None: ...

    @property
    def ignore_index(self) -> int | None: ...

    @property
    def loss_fn(self) -> LossFn: ...

    def class_prior(self) -> torch.Tensor: ...

    def derive(self, *names: object) -> int: ...

    def fresh_model(self, *names: object, factory: Callable[[], nn.Module] | None = None) -> nn.Module: ...

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer: ...

    def batch(self, n: int, split: str = "train", *names: object) -> Batch: ...


@dataclass
class CheckContext:
    """The context of `nnrecipe check` and `run`: an experiment on a device (a `ModelContext`)."""

    experiment: Experiment
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int | None = None
    budget: str = "default"
    #: why the model checks that need the loss cannot run on this setup (see engine.preflight), or None
    blocked: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.seed is None:
            self.seed = self.experiment.seed

    @property
    def task(self) -> str:
        return self.experiment.task

    @property
    def num_classes(self) -> int | None:
        return infer_num_classes(self.experiment)

    @property
    def ignore_index(self) -> int | None:
        """The target value the loss skips (padding), or None."""
        return ignore_index(self.experiment)

    @property
    def loss_fn(self) -> LossFn:
        return loss_fn(self.experiment)

    def class_prior(self) -> torch.Tensor:
        return self.shared("class_prior", lambda: class_prior(self.experiment))

    def derive(self, *names: object) -> int:
        assert self.seed is not None
        return derive_seed(self.seed, *names)

    def fresh_model(self, *names: object, factory: Callable[[], nn.Module] | None = None) -> nn.Module:
        """A new model from the factory, built under a seed derived from `names`, on the device, in train mode."""
        with seeded(self.derive("model", *names)):
            model = (factory or self.experiment.model)()
        return model.to(self.device).train()

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return make_optimizer(self.experiment, model.parameters())

    def batch(self, n: int, split: str = "train", *names: object) -> Batch:
        """`n` samples drawn at random (seeded) from a split, on the device."""
        ds = getattr(self.experiment, split)
        n = min(n, len(ds))
        gen = torch.Generator().manual_seed(self.derive("batch", split, n, *names))
        idx = torch.randperm(len(ds), generator=gen)[:n]
        x, y = take(ds, idx)
        return x.to(self.device), y.to(self.device)

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        """Compute once per context and reuse: the way checks share a short training run."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]  # type: ignore[no-any-return]
