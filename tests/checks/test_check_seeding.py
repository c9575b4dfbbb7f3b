"""Each check draws from its own seed: the same numbers however the process's random state stands before it,
and that state left as it was found."""

from __future__ import annotations

import json
import random

import numpy as np
import torch
from torch import nn

import nnrecipe as nr
import toy


def _dropout_mlp() -> nn.Module:
    # dropout draws a mask every training step, and several checks train: their numbers read the random state
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 4))


def _evidence(result: nr.RunResult) -> str:
    # as text, where a NaN equals itself; wall times are the one figure two runs may differ in
    return json.dumps({c.id: (c.status, _without_times(c.evidence)) for c in result.checks}, sort_keys=True,
                      default=repr)


def _without_times(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def test_check_twice_in_one_process_gives_the_same_numbers_whatever_ran_before() -> None:
    exp = toy.classification(model=_dropout_mlp)
    torch.manual_seed(1)
    first = nr.check(exp, device="cpu")
    torch.rand(1000)  # the process's random state moves on, as a user's own code would move it
    random.random()
    second = nr.check(exp, device="cpu")
    assert _evidence(first) == _evidence(second)


def test_check_leaves_the_global_random_state_as_it_found_it() -> None:
    exp = toy.classification(model=_dropout_mlp)
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    nr.check(exp, device="cpu", ids=["init-loss", "overfit-one-batch"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]) and got[2] == expected[2]
