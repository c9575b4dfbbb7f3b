"""PyTorch Lightning: the watcher inside `Trainer.fit`, and an `Experiment` built from a LightningModule.

- `RecipeCallback(out=...)` is a `lightning.pytorch.Callback` that drives `nr.watch` on the Trainer's own
  loop: its LightningModule, its optimizer (the hooks go on the torch optimizer inside), the loss its
  `training_step` returned, the validation loss it logged, and `max_steps` (else its estimate of the stepping
  batches) as the planned steps. Under DDP only global rank zero watches and writes.
- `experiment_from_lightning(module=..., datamodule=..., name=...)` (also `nr.Experiment.from_lightning`) is an
  `Experiment` whose model, optimizer and scheduler (from `configure_optimizers`, with its interval), training
  step (`training_step`) and datasets (the DataModule's dataloaders) are the user's own, so `nnrecipe check`
  runs every step-2 check on an unchanged LightningModule.
"""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nnrecipe.errors import SpecError
from nnrecipe.integrations import missing_extra
from nnrecipe.watching.result import WatchResult
from nnrecipe.watching.watcher import Watcher

try:
    import lightning.pytorch as pl
except ImportError as exc:  # pragma: no cover - the test extra installs it
    raise missing_extra("lightning", "lightning") from exc

if TYPE_CHECKING:
    from nnrecipe.experiment import Experiment

#: where a LightningModule's logged validation loss is looked for in `trainer.callback_metrics`, in order
VAL_LOSS_KEYS = ("val_loss", "val/loss", "valid_loss", "validation_loss", "loss/val", "val_loss_epoch")
#: and its logged training loss, when `training_step` returned none the callback can read
TRAIN_LOSS_KEYS = ("train_loss", "train/loss", "loss", "train_loss_step")
#: attributes of a LightningModule that hold its loss module (nn.CrossEntropyLoss(), ...), in order
LOSS_ATTRIBUTES = ("criterion", "loss_fn", "loss_func", "loss_function", "loss_module", "loss")


class RecipeCallback(pl.Callback):
    """Watch `Trainer.fit` with nnrecipe's online checks; on rank zero, write `out/result.json` and
    `out/report.html` when training ends (or raises). `result` holds the `RunResult` afterwards."""

    def __init__(self, out: str | Path | None = None, planned_steps: int | None = None, *, name: str | None = None,
                 val_loss_key: str | None = None) -> None:
        super().__init__()
        self.out, self.planned_steps, self.name, self.val_loss_key = out, planned_steps, name, val_loss_key
        self.watcher: Watcher | None = None
        self.result: WatchResult | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return  # gradients are all-reduced: rank zero sees what every rank trains
        optimizer = trainer.optimizers[0] if trainer.optimizers else None
        self.result = None  # a callback used for a second fit watches that one
        self.watcher = Watcher(pl_module, optimizer, out=self.out, name=self.name or type(pl_module).__name__,
                               planned_steps=self.planned_steps or planned_steps(trainer))
        self.watcher.start()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.watcher is None:
            return
        self.watcher.observe_input(batch)  # a training_step that calls a submodule, not self(x)
        self.watcher.end_step(_train_loss(outputs, trainer.callback_metrics))

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if self.watcher is None or trainer.sanity_checking:
            return
        value = val_loss(trainer.callback_metrics, self.val_loss_key)
        if value is not None:
            self.watcher.add_val(value)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._finish(None)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._finish(exception)

    def _finish(self, exc: BaseException | None) -> None:
        if self.watcher is not None and self.result is None:
            self.result = self.watcher.finish(exc)
            self.watcher = None


def planned_steps(trainer: Any) -> int | None:
    """The batches the Trainer plans: `max_steps`, else its estimated stepping batches (optimizer steps, so
    times the gradient accumulation); None when it cannot tell (an iterable dataset without a length)."""
    steps = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
    if steps is None:
        try:
            steps = trainer.estimated_stepping_batches
        except Exception:  # no length to estimate from
            return None
    if steps is None or not math.isfinite(float(steps)):
        return None
    return int(steps) * int(getattr(trainer, "accumulate_grad_batches", 1) or 1)


def val_loss(metrics: Mapping[str, Any], key: str | None = None) -> Any:
    """The logged validation loss: `key`, else the first of `VAL_LOSS_KEYS`, else a key naming val and loss."""
    if key is not None:
        return metrics.get(key)
    for name in VAL_LOSS_KEYS:
        if name in metrics:
            return metrics[name]
    named = [k for k in metrics if "val" in k.lower() and "loss" in k.lower()]
    return metrics[named[0]] if named else None


def _train_loss(outputs: Any, metrics: Mapping[str, Any]) -> Any:
    """The loss `training_step` returned (what the Trainer optimizes), else the logged training loss."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, Mapping) and isinstance(outputs.get("loss"), torch.Tensor):
        return outputs["loss"]
    return next((metrics[k] for k in TRAIN_LOSS_KEYS if k in metrics), None)


# -- Experiment.from_lightning


class _Optimizers:
    """`configure_optimizers` of the very module whose parameters nnrecipe asks an optimizer for.

    nnrecipe builds fresh models from the factory and then an optimizer from their parameters; the modules
    the factory built are remembered (weakly), so the optimizer comes from the same module's own
    `configure_optimizers`. A model nnrecipe builds around the user's (the capacity check puts two side by
    side) gets the optimizer of a fresh module with all its parameters in the first group. The scheduler
    `configure_optimizers` returned with an optimizer is kept for `scheduler(optimizer)`.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.modules: weakref.WeakSet[nn.Module] = weakref.WeakSet()
        self.schedulers: weakref.WeakKeyDictionary[torch.optim.Optimizer, Any] = weakref.WeakKeyDictionary()

    def model(self) -> Any:
        module = self.factory()
        if not isinstance(module, pl.LightningModule):
            raise SpecError(f"from_lightning: expected the module factory to return a LightningModule, but it "
                            f"returned a {type(module).__name__}")
        self.modules.add(module)
        return module

    def optimizer(self, params: Any) -> torch.optim.Optimizer:
        params = list(params)
        wanted = {id(p) for p in params}
        owner = next((m for m in list(self.modules) if {id(p) for p in m.parameters()} == wanted), None)
        if owner is not None:
            optimizer, scheduler = configured(owner)
        else:
            optimizer, scheduler = configured(self.factory())
            groups = optimizer.param_groups
            groups[0]["params"] = params
            for group in groups[1:]:
                group["params"] = []
        if scheduler is not None:
            self.schedulers[optimizer] = scheduler
        return optimizer

    def scheduler(self, optimizer: torch.optim.Optimizer) -> Any:
        config = self.schedulers.get(optimizer)
        if config is None:
            raise SpecError("from_lightning: the scheduler comes with its optimizer from configure_optimizers, but "
                            "this optimizer was not built by the experiment's optimizer")
        return config["scheduler"]


def configured(module: Any) -> tuple[torch.optim.Optimizer, dict[str, Any] | None]:
    """The one optimizer and the scheduler config (`scheduler`, `interval`, `frequency`, `monitor`) a
    LightningModule's `configure_optimizers` returns, in any of the forms Lightning accepts."""
    try:
        conf = module.configure_optimizers()
    except RuntimeError as exc:
        if "not attached to a `Trainer`" not in str(exc):
            raise
        raise SpecError(f"from_lightning: {type(module).__name__}.configure_optimizers reads self.trainer (for "
                        "example estimated_stepping_batches), and nnrecipe builds the optimizer without a Trainer; "
                        "pass optimizer=... and scheduler=... to from_lightning") from exc
    optimizers, schedulers = _unpack(conf)
    if len(optimizers) != 1:
        raise SpecError(f"from_lightning: expected configure_optimizers to return one optimizer, but it returned "
                        f"{len(optimizers)}; nnrecipe's checks train with a single optimizer")
    if len(schedulers) > 1:
        raise SpecError(f"from_lightning: expected at most one lr scheduler, but configure_optimizers returned "
                        f"{len(schedulers)}")
    return optimizers[0], (schedulers[0] if schedulers else None)


def _unpack(conf: Any) -> tuple[list[torch.optim.Optimizer], list[dict[str, Any]]]:
    if conf is None:
        raise SpecError("from_lightning: configure_optimizers returned None (no optimizer); nnrecipe's checks need "
                        "one to train with")
    if isinstance(conf, torch.optim.Optimizer):
        return [conf], []
    if isinstance(conf, Mapping):
        optimizers, schedulers = [conf["optimizer"]], []
        if conf.get("lr_scheduler") is not None:
            schedulers.append(_scheduler_config(conf["lr_scheduler"], conf.get("monitor")))
        return optimizers, schedulers
    if isinstance(conf, (list, tuple)):
        if len(conf) == 2 and all(isinstance(part, (list, tuple)) for part in conf):
            return list(conf[0]), [_scheduler_config(s) for s in conf[1]]
        if all(isinstance(part, Mapping) for part in conf):
            unpacked = [_unpack(part) for part in conf]
            return [o for os, _ in unpacked for o in os], [s for _, ss in unpacked for s in ss]
        if all(isinstance(part, torch.optim.Optimizer) for part in conf):
            return list(conf), []
    raise SpecError(f"from_lightning: configure_optimizers returned a {type(conf).__name__} that is none of the "
                    "forms Lightning documents (an optimizer, a list, a dict with 'optimizer')")


def _scheduler_config(value: Any, monitor: Any = None) -> dict[str, Any]:
    config = dict(value) if isinstance(value, Mapping) else {"scheduler": value}
    config.setdefault("interval", "epoch")
    config.setdefault("frequency", 1)
    config.setdefault("monitor", monitor)
    if config["interval"] not in ("epoch", "step"):
        raise SpecError(f"from_lightning: expected the scheduler interval 'epoch' or 'step', but got "
                        f"{config['interval']!r}")
    if config["frequency"] != 1:
        raise SpecError(f"from_lightning: a scheduler stepped every {config['frequency']} {config['interval']}s "
                        "cannot be replayed by nnrecipe (it steps every 1); pass scheduler=... to from_lightning")
    if isinstance(config["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau):
        raise SpecError("from_lightning: ReduceLROnPlateau follows a logged metric that nnrecipe's checks do not "
                        "log; pass scheduler=None to from_lightning to check the module without it")
    return config


def _training_step(loss: Callable[[Any, Any], Any]) -> Callable[[Any, Any, torch.optim.Optimizer], Any]:
    """One optimization step as Lightning's automatic optimization does it: training_step, zero_grad, backward,
    step. A model nnrecipe built around the LightningModule (no training_step of its own) takes the standard
    step with the experiment's loss."""
    batches = {"index": 0}

    def step(model: Any, batch: Any, optimizer: torch.optim.Optimizer) -> Any:
        optimizer.zero_grad(set_to_none=True)
        if isinstance(model, pl.LightningModule):
            with warnings.catch_warnings():  # self.log() without a Trainer: Lightning warns, and skips it
                warnings.filterwarnings("ignore", message=".*self.log\\(\\)")
                out = model.training_step(batch, batches["index"])
            value = out["loss"] if isinstance(out, Mapping) else out
            if not isinstance(value, torch.Tensor):
                raise SpecError(f"from_lightning: expected training_step to return the loss (a tensor, or a dict "
                                f"with 'loss'), but it returned {type(out).__name__}")
        else:
            x, y = batch
            value = loss(_prediction(model(x)), y)
        batches["index"] += 1
        value.backward()
        optimizer.step()
        return value.detach()

    return step


def _prediction(raw: Any) -> Any:
    from nnrecipe.engine.outputs import prediction

    return prediction(raw)


def _infer_task(ds: Any) -> str:
    x, y = ds[0]
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if y.is_floating_point():
        return "regression"
    if y.dim() == 0:
        return "classification"
    if not x.is_floating_point() and x.shape == y.shape:
        return "sequence"
    raise SpecError(f"from_lightning: cannot tell the task from the data (input {x.dtype} {tuple(x.shape)}, target "
                    f"{y.dtype} {tuple(y.shape)}); pass task='classification' | 'regression' | 'sequence'")


def _loss_of(module: Any) -> Any:
    """The loss module a LightningModule holds (`self.criterion = nn.CrossEntropyLoss()`), or None."""
    return next((getattr(module, a) for a in LOSS_ATTRIBUTES if isinstance(getattr(module, a, None), nn.Module)), None)


def _datasets(datamodule: Any) -> dict[str, Any]:
    """The DataModule's own datasets (behind its dataloaders) and its batch size."""
    if isinstance(datamodule, type):
        datamodule = datamodule()
    if not isinstance(datamodule, pl.LightningDataModule):
        raise SpecError(f"from_lightning: expected a LightningDataModule as datamodule, but got a "
                        f"{type(datamodule).__name__}")
    datamodule.prepare_data()
    datamodule.setup("fit")
    train_loader, val_loader = datamodule.train_dataloader(), datamodule.val_dataloader()
    found: dict[str, Any] = {"train": train_loader.dataset, "val": val_loader.dataset}
    if getattr(train_loader, "batch_size", None):
        found["batch_size"] = train_loader.batch_size
    if type(datamodule).test_dataloader is not pl.LightningDataModule.test_dataloader:
        datamodule.setup("test")
        found["test"] = datamodule.test_dataloader().dataset
    return found


def experiment_from_lightning(*, module: Callable[[], Any], datamodule: Any, name: str, **fields: Any) -> Experiment:
    """An `Experiment` of a LightningModule factory (its class, or a zero-argument callable) and a
    LightningDataModule. Any other `Experiment` field may be given to override what is read from them
    (`task`, `loss`, `epochs`, `optimizer`, `scheduler`, ...)."""
    from nnrecipe.experiment import Experiment
    from nnrecipe.seeding import seeded

    if isinstance(module, nn.Module) or not callable(module):
        raise SpecError(f"from_lightning: expected module to be a LightningModule class or a zero-argument factory, "
                        f"but got a {type(module).__name__}" + (" instance: pass the class" if isinstance(
                            module, nn.Module) else ""))
    data = _datasets(datamodule)
    builder = _Optimizers(module)
    with seeded(fields.get("seed", 0)):
        template = builder.model()
    if not template.automatic_optimization:
        raise SpecError(f"from_lightning: {type(template).__name__} uses manual optimization "
                        "(automatic_optimization = False), which needs a Trainer to step; nnrecipe replays "
                        "Lightning's automatic optimization only")
    derived: dict[str, Any] = {"name": name, "model": builder.model, **data}
    derived["task"] = fields.pop("task", None) or _infer_task(data["train"])
    loss = fields.get("loss", _loss_of(template))
    if loss is not None:
        derived["loss"] = loss
    if "optimizer" not in fields:
        _, schedule = configured(template)
        derived["optimizer"] = builder.optimizer
        if schedule is not None and "scheduler" not in fields:
            derived["scheduler"] = builder.scheduler
            derived["scheduler_interval"] = schedule["interval"]
    if "train_step" not in fields:
        from nnrecipe.engine.data import default_loss

        derived["train_step"] = _training_step(loss if loss is not None else default_loss(derived["task"]))
    origin = {"module": getattr(module, "__qualname__", type(module).__name__),
              "datamodule": getattr(datamodule, "__qualname__", type(datamodule).__name__)}
    derived["meta"] = {**fields.pop("meta", {}), "lightning": origin}
    return Experiment(**{**derived, **fields})
