"""`Experiment`: the one object a user describes their training with, and every part of nnrecipe takes.

Validation happens at construction, so a wrong field fails where the user wrote it, with a message that
names the field, what was expected and what was given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from nnrecipe.errors import SpecError, did_you_mean

TASKS = ("classification", "regression", "sequence")
Task = Literal["classification", "regression", "sequence"]
#: what one input is, for the pictures of the report, the audit's features and step 4's resolution knob: an image
#: (..., H, W), a 1-D signal (..., L), a row of a table (F,), or text (token ids)
Kind = Literal["image", "signal", "table", "text"]
KINDS: tuple[Kind, ...] = ("image", "signal", "table", "text")


@dataclass(frozen=True, kw_only=True, eq=False)
class Experiment:
    """A training setup: data, model factory, loss, optimizer and the budget the user plans.

    Every field is documented in CONTRACT.md §1. `model` is a zero-argument factory: nnrecipe builds fresh
    models from it and never touches a model the user holds.
    """

    name: str
    task: Task
    train: Any
    val: Any
    model: Callable[[], Any]
    test: Any = None
    loss: Callable[[Any, Any], Any] | None = None
    optimizer: Callable[[Any], Any] | None = None
    scheduler: Callable[[Any], Any] | None = None
    scheduler_interval: Literal["epoch", "step"] = "epoch"
    augment: Callable[[Any, Any], tuple[Any, Any]] | None = None
    batch_size: int = 64
    epochs: int = 10
    num_classes: int | None = None
    class_names: Sequence[str] | None = None
    seed: int = 0
    train_step: Callable[[Any, Any, Any], Any] | None = None
    human_labels: Sequence[Any] | None = None
    #: the target value the loss skips (padding), for every check that reads targets; found from the loss or the
    #: data when not given (see nnrecipe.engine.targets)
    ignore_index: int | None = None
    #: keyword parameters of `model` that set its capacity, each with the values to try, smallest first (§5)
    capacity: dict[str, Sequence[Any]] | None = None
    #: keyword parameters of `model` that regularize it, each with the values to try, weakest first (§5)
    regularizers: dict[str, Sequence[Any]] | None = None
    #: what one input is (see KINDS); inferred from the data's shape and dtype when not given
    kind: Kind | None = None
    #: the string of each token id (a string of characters, a list, or a dict either way round), so text inputs
    #: and predictions can be shown decoded
    vocab: Sequence[str] | Mapping[Any, Any] | None = None
    #: a label-preserving augmentation of a whole training batch, `(x, y, generator) -> (x, y)`, that step 4 may
    #: switch on as a regularizer (the built-ins' jitter, scaling, shifts)
    batch_augment: Callable[[Any, Any, Any], tuple[Any, Any]] | None = None
    #: descriptive notes only (a built-in's description and reference scores, the spec a run was loaded from);
    #: nothing reads a switch from here
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, **changes: Any) -> Experiment:
        """A copy with some fields changed (validated again)."""
        _reject_unknown(changes)
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_lightning(cls, *, module: Callable[[], Any], datamodule: Any, name: str, **fields: Any) -> Experiment:
        """The experiment of a LightningModule class (or factory) and a LightningDataModule: their model,
        optimizer, scheduler, training step and datasets (see `nnrecipe.integrations.lightning`)."""
        from nnrecipe.integrations.lightning import experiment_from_lightning

        return experiment_from_lightning(module=module, datamodule=datamodule, name=name, **fields)


_FIELDS = tuple(f.name for f in dataclasses.fields(Experiment))
_REQUIRED = ("name", "task", "train", "val", "model")
_generated_init = Experiment.__init__


def _init(self: Experiment, *args: Any, **kwargs: Any) -> None:
    if args:
        raise SpecError(
            f"Experiment takes keyword arguments only (name=..., task=..., ...), but got {len(args)} "
            "positional argument(s)"
        )
    _reject_unknown(kwargs)
    missing = [name for name in _REQUIRED if name not in kwargs]
    if missing:
        raise SpecError(f"Experiment is missing required field(s): {', '.join(missing)}")
    _generated_init(self, **kwargs)


Experiment.__init__ = _init  # type: ignore[method-assign]


def _reject_unknown(kwargs: dict[str, Any]) -> None:
    for key in kwargs:
        if key not in _FIELDS:
            raise SpecError(
                f"Experiment got an unknown field {key!r}{did_you_mean(key, _FIELDS)}; "
                f"expected one of: {', '.join(_FIELDS)}"
            )


def _type_name(value: Any) -> str:
    return type(value).__name__


def _validate(exp: Experiment) -> None:
    _validate_identity(exp)
    for name in ("train", "val"):
        _validate_dataset(name, getattr(exp, name), required=True)
    _validate_dataset("test", exp.test, required=False)
    _validate_callables(exp)
    _validate_numbers(exp)
    _validate_class_names(exp)
    _validate_human_labels(exp)
    _validate_description(exp)
    _validate_first_sample(exp)
    from nnrecipe import knobs  # capacity and regularizers name keyword parameters of `model`

    knobs.validate(exp)


def _validate_identity(exp: Experiment) -> None:
    if not isinstance(exp.name, str) or not exp.name.strip():
        raise SpecError(f"Experiment field 'name': expected a non-empty string, but got {exp.name!r}")
    if exp.task not in TASKS:
        raise SpecError(
            f"Experiment field 'task': expected one of {', '.join(map(repr, TASKS))}, "
            f"but got {exp.task!r}{did_you_mean(str(exp.task), TASKS)}"
        )


def _validate_callables(exp: Experiment) -> None:
    if _is_module(exp.model):  # an nn.Module is callable too, but calling it runs a forward pass
        raise SpecError(
            "Experiment field 'model': expected a zero-argument callable returning a fresh nn.Module, but got an "
            f"{_type_name(exp.model)} instance — pass the class or a lambda, not an instance"
        )
    if not callable(exp.model):
        raise SpecError(
            "Experiment field 'model': expected a zero-argument callable returning a fresh nn.Module "
            f"(a class or a function), but got a {_type_name(exp.model)}"
        )
    for name in ("loss", "optimizer", "scheduler", "augment", "train_step", "batch_augment"):
        value = getattr(exp, name)
        if value is not None and not callable(value):
            raise SpecError(f"Experiment field {name!r}: expected a callable or None, but got a {_type_name(value)}")
    if exp.scheduler_interval not in ("epoch", "step"):
        raise SpecError(
            f"Experiment field 'scheduler_interval': expected 'epoch' or 'step', but got {exp.scheduler_interval!r}"
        )


def _validate_numbers(exp: Experiment) -> None:
    for name in ("batch_size", "epochs"):
        _require_positive_int(name, getattr(exp, name))
    if exp.num_classes is not None:
        _require_positive_int("num_classes", exp.num_classes)
        if exp.task == "regression":
            raise SpecError("Experiment field 'num_classes': a regression task has no classes; leave it as None")
    if exp.ignore_index is not None and (not isinstance(exp.ignore_index, int) or isinstance(exp.ignore_index, bool)):
        raise SpecError(f"Experiment field 'ignore_index': expected an integer target value or None, but got "
                        f"{exp.ignore_index!r}")
    if exp.ignore_index is not None and exp.task == "regression":
        raise SpecError("Experiment field 'ignore_index': a regression task has no class ids to skip; leave it as None")
    if not isinstance(exp.seed, int) or isinstance(exp.seed, bool) or not 0 <= exp.seed < 2**32:
        raise SpecError(f"Experiment field 'seed': expected an integer in 0..2**32-1 (numpy seeds cannot be "
                        f"negative), but got {exp.seed!r}")


def _validate_human_labels(exp: Experiment) -> None:
    if exp.human_labels is None:
        return
    if isinstance(exp.human_labels, (str, bytes)) or not hasattr(exp.human_labels, "__len__"):
        raise SpecError(
            "Experiment field 'human_labels': expected a sequence of targets for the first N validation "
            f"samples, but got a {_type_name(exp.human_labels)}"
        )
    if len(exp.human_labels) > len(exp.val):
        raise SpecError(
            f"Experiment field 'human_labels': expected at most {len(exp.val)} labels (the validation set's "
            f"size), but got {len(exp.human_labels)}"
        )


def _validate_description(exp: Experiment) -> None:
    """kind, vocab and meta: what describes the data rather than trains on it."""
    if exp.kind is not None and exp.kind not in KINDS:
        raise SpecError(f"Experiment field 'kind': expected one of {', '.join(map(repr, KINDS))} or None, but got "
                        f"{exp.kind!r}{did_you_mean(str(exp.kind), KINDS)}")
    vocab = exp.vocab
    texts = vocab.values() if isinstance(vocab, Mapping) and not all(isinstance(k, str) for k in vocab) else vocab
    if vocab is not None and (isinstance(vocab, bytes) or not all(isinstance(t, str) for t in texts or ())):
        raise SpecError("Experiment field 'vocab': expected the text of each token id (a string, a list of strings, "
                        f"or a dict between ids and strings), but got a {_type_name(vocab)}")
    if not isinstance(exp.meta, dict):
        raise SpecError(f"Experiment field 'meta': expected a dict, but got a {_type_name(exp.meta)}")


def _is_module(value: Any) -> bool:
    try:
        import torch.nn as nn
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    return isinstance(value, nn.Module)


def _require_positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise SpecError(f"Experiment field {name!r}: expected a positive integer, but got {value!r}")


def _validate_class_names(exp: Experiment) -> None:
    names = exp.class_names
    if names is None:
        return
    if isinstance(names, (str, bytes)) or not all(isinstance(n, str) for n in names):
        raise SpecError("Experiment field 'class_names': expected a sequence of strings, one per class")
    if exp.num_classes is not None and len(names) != exp.num_classes:
        raise SpecError(
            f"Experiment field 'class_names': expected {exp.num_classes} names (num_classes), but got {len(names)}"
        )


def _validate_dataset(name: str, ds: Any, *, required: bool) -> None:
    if ds is None:
        if required:
            raise SpecError(f"Experiment field {name!r}: expected a torch Dataset of (input, target) pairs, but got None")
        return
    if not (hasattr(ds, "__getitem__") and hasattr(ds, "__len__")):
        raise SpecError(
            f"Experiment field {name!r}: expected a map-style torch Dataset (with __getitem__ and __len__) of "
            f"(input, target) pairs, but got a {_type_name(ds)}"
        )
    if len(ds) == 0:
        raise SpecError(f"Experiment field {name!r}: the dataset is empty")
    try:
        item = ds[0]
    except Exception as exc:  # the user's dataset raised: report it as a spec problem
        raise SpecError(f"Experiment field {name!r}: reading sample 0 raised {_type_name(exc)}: {exc}") from exc
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise SpecError(
            f"Experiment field {name!r}: expected each sample to be an (input, target) pair, but sample 0 is "
            f"a {_type_name(item)}" + (f" of length {len(item)}" if isinstance(item, (tuple, list)) else "")
        )


def _validate_first_sample(exp: Experiment) -> None:
    """The task must fit the data: checked on the first training sample."""
    import torch

    x, y = exp.train[0]
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    integer = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
    if exp.task == "classification":
        if y.dtype not in integer or y.dim() != 0:
            raise SpecError(
                "Experiment field 'task' is 'classification': expected each target to be one integer class id, "
                f"but sample 0's target is a {y.dtype} tensor of shape {tuple(y.shape)}"
                + (" — is this a regression task?" if y.is_floating_point() else "")
            )
    elif exp.task == "sequence":
        if x.dtype not in integer or x.dim() != 1:
            raise SpecError(
                "Experiment field 'task' is 'sequence': expected each input to be a 1-D tensor of token ids, "
                f"but sample 0's input is a {x.dtype} tensor of shape {tuple(x.shape)}"
            )
        if y.dtype not in integer or y.shape != x.shape:
            raise SpecError(
                "Experiment field 'task' is 'sequence': expected each target to be token ids of the input's "
                f"shape {tuple(x.shape)}, but sample 0's target is a {y.dtype} tensor of shape {tuple(y.shape)}"
            )
    elif exp.task == "regression" and not y.is_floating_point():
        raise SpecError(
            "Experiment field 'task' is 'regression': expected floating-point targets, but sample 0's target is "
            f"a {y.dtype} tensor — is this a classification task?"
        )
