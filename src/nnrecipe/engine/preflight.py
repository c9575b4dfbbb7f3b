"""Preflight: the setup is tried once, up front, on three training samples, before any check or step runs.

A setup the checks cannot run on at all (a forward that raises or returns something that holds no prediction, a
loss that returns a float or one value per sample, an optimizer factory that returns no optimizer, a
`train_step` that returns nothing, labels outside 0..C-1, samples of different shapes) would otherwise turn
every check into an `error` row with the same exception. It is a spec error instead: one message that names
the field, what was expected and what was given, found once.

Everything is tried on a fresh model from the factory, with the global random state restored afterwards.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from nnrecipe.engine.data import collate, make_optimizer, tensors_of
from nnrecipe.engine.outputs import expected_output_shape, one_binary_logit, prediction
from nnrecipe.engine.targets import ignore_index, infer_num_classes, split_targets
from nnrecipe.errors import SpecError
from nnrecipe.experiment import Experiment
from nnrecipe.seeding import preserved_random_state

#: samples read from each split to confirm they collate into a batch
READ_SAMPLES = 8


def preflight(exp: Experiment, *, model: bool = True, device: torch.device | None = None) -> str | None:
    """Raise SpecError when the data (and, with `model`, the model, loss, optimizer and step) cannot be run.

    One problem is a check's to report rather than a spec error: a model whose output does not fit the task
    (ten classes, eight logits), on which the loss cannot run. Then the reason is returned: `output-shape` fails
    on it and the checks that need the loss are skipped with this reason.
    """
    with preserved_random_state():
        for split in ("train", "val", "test"):
            if getattr(exp, split) is not None:
                _readable(exp, split)
        _labels_in_range(exp)
        return _runs(exp, device or torch.device("cpu")) if model else None


def _readable(exp: Experiment, split: str) -> None:
    ds = getattr(exp, split)
    if tensors_of(ds) is not None:
        return
    n = min(len(ds), READ_SAMPLES)
    samples = []
    for i in range(n):
        try:
            sample = ds[i]
        except Exception as exc:
            raise SpecError(f"Experiment field {split!r}: reading sample {i} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(sample, (tuple, list)) or len(sample) != 2:
            raise SpecError(f"Experiment field {split!r}: expected each sample to be an (input, target) pair, but "
                            f"sample {i} is a {type(sample).__name__}")
        samples.append((sample[0], sample[1]))
    try:
        collate(samples)
    except Exception as exc:
        shapes = sorted({tuple(torch.as_tensor(x).shape) for x, _ in samples})
        raise SpecError(f"Experiment field {split!r}: expected every sample's input to have one shape so that they "
                        f"batch, but the first {n} samples have shapes {shapes} ({type(exc).__name__}: {exc})") from exc


def _labels_in_range(exp: Experiment) -> None:
    if exp.task == "regression":
        return
    ignore = ignore_index(exp)
    classes = infer_num_classes(exp)
    assert classes is not None
    if exp.class_names is not None and len(exp.class_names) != classes:
        raise SpecError(f"Experiment field 'class_names': expected {classes} names (one per class; the data's largest "
                        f"class id is {classes - 1}), but got {len(exp.class_names)}")
    for split in ("train", "val", "test"):
        if getattr(exp, split) is None:
            continue
        y = split_targets(exp, split).reshape(-1).long()
        bad = y[((y < 0) | (y >= classes)) & (y != (ignore if ignore is not None else -(2**62)))]
        if len(bad):
            values = sorted(set(bad.tolist()))[:5]
            hint = (f"; if {values[0]} marks unlabelled positions, set ignore_index={values[0]}"
                    if values[0] < 0 else "; set num_classes to the number of classes")
            raise SpecError(f"Experiment field {split!r}: expected class ids in 0..{classes - 1}, but {len(bad)} "
                            f"target(s) are outside it, e.g. {values}{hint}")


def _runs(exp: Experiment, device: torch.device) -> str | None:
    from nnrecipe.engine.data import loss_fn, take

    x, y = take(exp.train, torch.arange(min(3, len(exp.train))))
    x, y = x.to(device), y.to(device)
    model = build_model(exp).to(device)
    out = _forward(model, x)
    want = expected_output_shape(exp.task, y, infer_num_classes(exp))
    fits = list(out.shape) == want or one_binary_logit(exp.task, list(out.shape), want)
    try:
        # two batch sizes: a loss that broadcasts (B, C) against (B,) can run when B == C, never for both
        loss = _loss(loss_fn(exp), out, y)
        if len(y) > 2:
            _loss(loss_fn(exp), out[:2], y[:2])
    except SpecError as exc:
        if fits:
            raise
        return f"the loss cannot run on the model's output {list(out.shape)} where the task needs {want} ({exc})"
    if not any(p.requires_grad for p in model.parameters()):
        raise SpecError("Experiment field 'model': expected a model with trainable parameters, but the factory's "
                        "model has none")
    if loss.requires_grad:
        loss.backward()
    optimizer = _optimizer(exp, model)
    if exp.scheduler is not None:
        try:
            exp.scheduler(optimizer)
        except Exception as exc:
            raise SpecError(f"Experiment field 'scheduler': calling it on the optimizer raised "
                            f"{type(exc).__name__}: {exc}") from exc
    if exp.train_step is not None:
        _step(exp, build_model(exp).to(device), (x, y))
    return None


def build_model(exp: Experiment) -> Any:
    """A model from the factory, or a SpecError naming the factory's failure."""
    try:
        model = exp.model()
    except Exception as exc:
        raise SpecError(f"Experiment field 'model': calling the model factory raised {type(exc).__name__}: "
                        f"{exc}") from exc
    if not isinstance(model, torch.nn.Module):
        raise SpecError(f"Experiment field 'model': expected the factory to return a torch nn.Module, but it "
                        f"returned a {type(model).__name__}")
    return model


def _forward(model: Any, x: torch.Tensor) -> torch.Tensor:
    was_training = model.training
    model.eval()
    try:
        raw = model(x)
    except Exception as exc:
        raise SpecError(f"Experiment field 'model': calling the model on a batch of {len(x)} training samples "
                        f"(input {tuple(x.shape)}, {x.dtype}) raised {type(exc).__name__}: {exc}") from exc
    finally:
        model.train(was_training)
    try:
        return prediction(raw)
    except SpecError as exc:
        raise SpecError(f"Experiment field 'model': {exc}") from exc


def _loss(loss: Any, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # broadcasting warnings: loss-pairing measures and reports those
            value = loss(out, y)
    except Exception as exc:
        raise SpecError(f"Experiment field 'loss': calling the loss on the model's output {tuple(out.shape)} and the "
                        f"targets {tuple(y.shape)} ({y.dtype}) raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(value, torch.Tensor):
        raise SpecError(f"Experiment field 'loss': expected a scalar tensor (that backward() can run on), but the "
                        f"loss returned a {type(value).__name__}")
    if value.numel() != 1:
        raise SpecError(f"Experiment field 'loss': expected one scalar for the batch, but the loss returned shape "
                        f"{tuple(value.shape)} — reduce it (e.g. .mean())")
    return value


def _optimizer(exp: Experiment, model: Any) -> torch.optim.Optimizer:
    try:
        optimizer = make_optimizer(exp, model.parameters())
    except Exception as exc:
        raise SpecError(f"Experiment field 'optimizer': calling it on the model's parameters raised "
                        f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise SpecError(f"Experiment field 'optimizer': expected a callable returning a torch.optim.Optimizer, but "
                        f"it returned a {type(optimizer).__name__}")
    return optimizer


def _step(exp: Experiment, model: Any, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    assert exp.train_step is not None
    optimizer = _optimizer(exp, model)
    model.train()
    try:
        value = exp.train_step(model, batch, optimizer)
    except Exception as exc:
        raise SpecError(f"Experiment field 'train_step': one step on a batch of {len(batch[1])} training samples "
                        f"raised {type(exc).__name__}: {exc}") from exc
    if value is None or not (isinstance(value, (int, float)) or (isinstance(value, torch.Tensor) and value.numel() == 1)):
        raise SpecError("Experiment field 'train_step': expected it to return the step's loss (a scalar tensor or a "
                        f"float), but it returned {'None' if value is None else type(value).__name__}")
