"""Facts about an experiment's targets that every check reads: the number of classes, and the target value
the loss skips (padding after the end of a sequence, unlabelled samples).

Language models pad their next-token targets with an ignore index (`cross_entropy(..., ignore_index=-1)` in
minGPT, -100 in Hugging Face). A check that reads targets must leave those positions out, or it counts
padding as wrong predictions, as a class of its own, or crashes on a negative id. The ignore index is found,
in this order: the experiment's `ignore_index` field; an `ignore_index` the loss declares (a
`CrossEntropyLoss`/`NLLLoss` instance, a `functools.partial` keyword); a negative value in the targets (no
class id is negative, so it can only be padding); a value the user's loss is measured to skip (its output at
those positions does not change the loss).

The facts are computed once per experiment and kept beside it (never inside the user's objects).
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

import torch

from nnrecipe.experiment import Experiment

_FACTS: weakref.WeakKeyDictionary[Experiment, dict[str, Any]] = weakref.WeakKeyDictionary()
_UNSET = object()
#: the most frequent target values tried as a loss's silent ignore index
PROBED_VALUES = 3
#: a value counts as skipped when changing the outputs at its positions moves the loss by less than this
PROBE_TOLERANCE = 1e-7


def _facts(exp: Experiment) -> dict[str, Any]:
    return _FACTS.setdefault(exp, {})


def _cached(exp: Experiment, key: str, compute: Any) -> Any:
    facts = _facts(exp)
    if key not in facts:
        facts[key] = compute()
    return facts[key]


def _tensors(ds: Any) -> tuple[torch.Tensor, torch.Tensor]:
    from nnrecipe.engine.data import tensors_of

    tensors = tensors_of(ds)
    if tensors is not None:
        return tensors[0], tensors[1]
    pairs = [ds[i] for i in range(len(ds))]
    return (torch.stack([torch.as_tensor(x) for x, _ in pairs]), torch.stack([torch.as_tensor(y) for _, y in pairs]))


def split_targets(exp: Experiment, split: str) -> torch.Tensor:
    """Every target of a split, stacked once per experiment."""
    from nnrecipe.engine.data import all_targets

    return _cached(exp, f"targets:{split}", lambda: all_targets(getattr(exp, split)))  # type: ignore[no-any-return]


def declared_ignore_index(loss: Any) -> int | None:
    """An ignore index the loss states itself: an attribute of a loss module, or a partial's keyword."""
    if loss is None:
        return None
    if isinstance(loss, functools.partial):
        value = loss.keywords.get("ignore_index")
        return int(value) if isinstance(value, int) else declared_ignore_index(loss.func)
    value = getattr(loss, "ignore_index", None)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def ignore_index(exp: Experiment) -> int | None:
    """The target value that marks positions the loss skips, or None (see the module docstring)."""
    if exp.task == "regression":
        return None
    return _cached(exp, "ignore_index", lambda: _find_ignore_index(exp))  # type: ignore[no-any-return]


def _find_ignore_index(exp: Experiment) -> int | None:
    if exp.ignore_index is not None:
        return exp.ignore_index
    targets = split_targets(exp, "train").reshape(-1).long()
    declared = declared_ignore_index(exp.loss)
    if declared is not None and bool((targets == declared).any()):
        return declared  # a loss module always carries one (-100 by default): it matters when it occurs
    negative = torch.unique(targets[targets < 0])
    if len(negative) == 1 and exp.task == "sequence":
        return int(negative[0])  # no token id is negative: a single negative value can only be padding
    if len(negative) > 1 or exp.loss is None:
        return None  # several negative values are not padding; the standard loss skips nothing else
    return _probe_skipped_value(exp, targets)


def _probe_skipped_value(exp: Experiment, targets: torch.Tensor) -> int | None:
    """A frequent target value whose positions the user's loss does not read (a pad id ignored in a lambda)."""
    sample = split_targets(exp, "train")[:64]
    classes = int(targets.max()) + 1
    values, counts = torch.unique(sample, return_counts=True)
    gen = torch.Generator().manual_seed(0)
    out = torch.randn((*sample.shape, classes), generator=gen)
    loss = exp.loss
    assert loss is not None
    try:
        base = float(loss(out, sample))
    except Exception:  # the loss does not take these outputs: nothing can be learned about it here
        return None

    def moves(where: torch.Tensor) -> bool | None:
        """Whether changing the outputs at `where` changes the loss (None: the loss refused them)."""
        moved = out.clone()
        moved[where] += 5 * torch.randn(moved[where].shape, generator=gen)
        try:
            return abs(float(loss(moved, sample)) - base) > PROBE_TOLERANCE * max(abs(base), 1.0)
        except Exception:
            return None

    for value in values[counts.argsort(descending=True)][:PROBED_VALUES].tolist():
        where = sample == value
        if bool(where.all()):
            continue
        # skipped: the loss ignores these positions but reads the others (a clamped or constant loss reads none,
        # and must not make a real class look like padding)
        if moves(where) is False and moves(~where) is True:
            return int(value)
    return None


def labelled(y: torch.Tensor, ignore: int | None) -> torch.Tensor:
    """A boolean mask of the target positions that carry a label (not the ignore index)."""
    return torch.ones_like(y, dtype=torch.bool) if ignore is None else y != ignore


def infer_num_classes(exp: Experiment) -> int | None:
    """`num_classes` when given, else the largest class id (or token id, for sequences) seen + 1; padding
    (the ignore index) is not a class."""
    if exp.task == "regression":
        return None
    if exp.num_classes is not None:
        return exp.num_classes
    return _cached(exp, "num_classes", lambda: _largest_id(exp) + 1)  # type: ignore[no-any-return]


def _largest_id(exp: Experiment) -> int:
    ignore = ignore_index(exp)
    largest = 0
    for split in ("train", "val", "test"):
        ds = getattr(exp, split)
        if ds is None:
            continue
        values = [split_targets(exp, split)]
        if exp.task == "sequence":
            values.append(_tensors(ds)[0])
        for v in values:
            v = v.reshape(-1).long()
            v = v[(v >= 0) & labelled(v, ignore)]
            if len(v):
                largest = max(largest, int(v.max()))
    return largest


def class_prior(exp: Experiment) -> torch.Tensor:
    """Frequency of each class (each token, for sequences) among the labelled training targets."""
    num_classes = infer_num_classes(exp)
    assert num_classes is not None, "class_prior needs a classification or sequence task"
    targets = split_targets(exp, "train").reshape(-1).long()
    targets = targets[labelled(targets, ignore_index(exp)) & (targets >= 0) & (targets < num_classes)]
    counts = torch.bincount(targets, minlength=num_classes).double()
    return counts / counts.sum().clamp_min(1)
