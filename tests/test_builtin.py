"""The four built-in experiments: sizes, disjoint splits, shapes, model knobs, augmentation, causality."""

from __future__ import annotations

import math

import pytest
import torch

from nnrecipe.builtin import BUILTINS, load_builtin
from nnrecipe.builtin import chars as chars_module

EXPECTED_SIZES = {
    "mnist1d": (4000, 2000, 1000),
    "digits": (1079, 359, 359),
    "diabetes": (266, 88, 88),
}
KINDS = {"mnist1d": "signal", "digits": "image", "diabetes": "table", "chars": "text"}


@pytest.fixture(scope="module", params=sorted(BUILTINS))
def built(request: pytest.FixtureRequest):
    return request.param, load_builtin(request.param)


def _splits(exp):
    return [exp.train, exp.val, exp.test]


def test_meta_describes_the_experiment(built) -> None:
    name, exp = built
    assert exp.name == name
    assert exp.kind == KINDS[name]
    assert isinstance(exp.meta["description"], str) and exp.meta["description"].endswith(".")
    assert isinstance(exp.meta["reference"], dict)
    assert "model_family" not in exp.meta  # the knobs are the contract's capacity and regularizers
    assert exp.seed == 0 and exp.optimizer is None
    assert (exp.batch_augment is not None) == (name != "chars")


def test_split_sizes(built) -> None:
    name, exp = built
    if name in EXPECTED_SIZES:
        assert tuple(len(ds) for ds in _splits(exp)) == EXPECTED_SIZES[name]
    else:  # chars: about 270k characters in windows of 64, 80/10/10
        train, val, test = (len(ds) for ds in _splits(exp))
        assert 2500 < train < 4500 and 0.08 < val / train < 0.16 and 0.08 < test / train < 0.16


@pytest.mark.parametrize("name", ["mnist1d", "digits", "diabetes"])
def test_no_sample_is_in_two_splits(name: str) -> None:
    exp = load_builtin(name)
    rows = [{tuple(x.flatten().tolist()) for x in ds.tensors[0]} for ds in _splits(exp)]
    assert not rows[0] & rows[1] and not rows[0] & rows[2] and not rows[1] & rows[2]


def test_chars_windows_come_from_disjoint_text() -> None:
    _, splits = chars_module.corpus()
    ranges = [(start, start + chars_module.CONTEXT + 1) for k, (_, starts) in enumerate(splits) for start in starts]
    owner = {}
    for k, (_, starts) in enumerate(splits):
        for start in starts:
            for position in range(start, start + chars_module.CONTEXT + 1):  # every character a window reads
                assert owner.setdefault(position, k) == k, f"character {position} is read by two splits"
    assert len(ranges) == sum(len(starts) for _, starts in splits)


def test_splits_are_standardized_with_train_statistics(built) -> None:
    name, exp = built
    if name == "chars":
        pytest.skip("chars inputs are token ids: there is nothing to standardize")
    x = exp.train.tensors[0]
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-2
    if name == "diabetes":
        y = exp.train.tensors[1]
        assert abs(float(y.mean())) < 1e-3 and abs(float(y.std()) - 1) < 1e-2


def test_shapes_and_dtypes_fit_the_task(built) -> None:
    name, exp = built
    x, y = exp.train[0]
    expected = {
        "mnist1d": ((40,), torch.float32, (), torch.int64),
        "digits": ((1, 8, 8), torch.float32, (), torch.int64),
        "diabetes": ((10,), torch.float32, (1,), torch.float32),
        "chars": ((64,), torch.int64, (64,), torch.int64),
    }[name]
    assert (tuple(x.shape), x.dtype, tuple(y.shape), y.dtype) == expected
    for ds in _splits(exp):
        assert isinstance(ds, torch.utils.data.TensorDataset)


def test_every_call_returns_fresh_datasets() -> None:
    first, second = load_builtin("digits"), load_builtin("digits")
    first.train.tensors[0].add_(1.0)
    assert abs(float(second.train.tensors[0].mean())) < 1e-3
    assert abs(float(load_builtin("digits").train.tensors[0].mean())) < 1e-3


def test_model_output_shape(built) -> None:
    name, exp = built
    torch.manual_seed(0)
    x, _ = exp.train.tensors
    out = exp.model()(x[:8])
    expected = {"diabetes": (8, 1), "chars": (8, 64, exp.num_classes)}.get(name, (8, 10))
    assert tuple(out.shape) == expected


def test_the_knobs_are_keyword_parameters_of_the_model_with_the_default_among_the_capacities(built) -> None:
    from nnrecipe import knobs

    _, exp = built
    assert set(exp.capacity) == {"width", "depth"} and set(exp.regularizers) == {"dropout"}
    for knob in knobs.declared(exp):
        assert knob.known_default, knob
        assert list(knob.values) == sorted(knob.values)  # smallest capacity, weakest regularizer first
        if knob.role == "capacity":  # the ladder starts one value below the experiment's own model
            assert knob.default in knob.values and knob.down(knob.default) is not None
    model = exp.model()
    assert not any(isinstance(m, (torch.nn.Dropout, torch.nn.Dropout2d)) for m in model.modules())


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_width_and_depth_change_the_parameter_count(built) -> None:
    _, exp = built
    base = _params(exp.model())
    assert _params(exp.model(width=0.5)) < base < _params(exp.model(width=2.0))
    assert _params(exp.model(depth=1)) < base < _params(exp.model(depth=4))
    with_dropout = exp.model(dropout=0.2)
    assert any(isinstance(m, (torch.nn.Dropout, torch.nn.Dropout2d)) for m in with_dropout.modules())


def test_batch_augment_is_deterministic_and_keeps_labels(built) -> None:
    name, exp = built
    if name == "chars":
        pytest.skip("chars has no batch augmentation (its text windows are not augmented)")
    augment = exp.batch_augment
    x, y = exp.train.tensors[0][:32], exp.train.tensors[1][:32]
    x1, y1 = augment(x, y, torch.Generator().manual_seed(7))
    x2, y2 = augment(x, y, torch.Generator().manual_seed(7))
    x3, _ = augment(x, y, torch.Generator().manual_seed(8))
    assert torch.equal(x1, x2) and torch.equal(y1, y) and torch.equal(y2, y)
    assert x1.shape == x.shape and x1.dtype == x.dtype
    assert not torch.equal(x1, x) and not torch.equal(x1, x3)


def test_batch_augment_leaves_global_random_state_alone(built) -> None:
    name, exp = built
    if name == "chars":
        pytest.skip("chars has no batch augmentation (its text windows are not augmented)")
    state = torch.random.get_rng_state()
    exp.batch_augment(exp.train.tensors[0][:8], exp.train.tensors[1][:8], torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.random.get_rng_state())


def test_mnist1d_shift_moves_the_signal() -> None:
    from nnrecipe.builtin import mnist1d

    x = torch.arange(40, dtype=torch.float32).repeat(64, 1)
    shifted, _ = mnist1d.batch_augment(x, torch.zeros(64, dtype=torch.long), torch.Generator().manual_seed(0))
    # Undo the scale and shear (a line) and what remains is a circular shift of 0..39: consecutive
    # differences are constant apart from one wrap-around step.
    diffs = shifted.diff(dim=-1)
    typical = diffs.median(dim=-1, keepdim=True).values
    assert ((diffs - typical).abs() > 1e-3).sum(dim=-1).le(1).all()


def test_digits_augment_stays_in_the_pixel_range() -> None:
    from nnrecipe.builtin import digits

    exp = load_builtin("digits")
    x = exp.train.tensors[0][:16]
    moved, _ = digits.batch_augment(x, exp.train.tensors[1][:16], torch.Generator().manual_seed(0))
    assert moved.min() >= x.min() - 1e-4 and moved.max() <= x.max() + 1e-4  # interpolation, no overshoot


@pytest.mark.parametrize("name", ["mnist1d", "digits"])
def test_init_loss_is_near_uniform(name: str) -> None:
    exp = load_builtin(name)
    torch.manual_seed(0)
    model = exp.model().eval()
    x, y = exp.train.tensors
    with torch.no_grad():
        loss = float(torch.nn.functional.cross_entropy(model(x[:512]), y[:512]))
    assert abs(loss - math.log(10)) < 0.1 * math.log(10)


def test_gpt_init_loss_is_near_uniform() -> None:
    exp = load_builtin("chars")
    torch.manual_seed(0)
    x, y = exp.train.tensors
    with torch.no_grad():
        out = exp.model().eval()(x[:16])
        loss = float(torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y[:16].reshape(-1)))
    assert abs(loss - math.log(exp.num_classes)) < 0.05 * math.log(exp.num_classes)


def test_gpt_is_causal() -> None:
    exp = load_builtin("chars")
    torch.manual_seed(0)
    model = exp.model().eval()
    x = exp.train.tensors[0][:4].clone()
    t = 40
    changed = x.clone()
    changed[:, t:] = (changed[:, t:] + 1) % exp.num_classes
    with torch.no_grad():
        before, after = model(x), model(changed)
    assert torch.allclose(before[:, :t], after[:, :t], atol=1e-6)
    assert not torch.allclose(before[:, t:], after[:, t:])


def test_chars_vocab_decodes_the_text() -> None:
    exp = load_builtin("chars")
    vocab = exp.vocab
    assert len(vocab) == exp.num_classes and len(set(vocab)) == len(vocab)
    assert vocab[:-1] == sorted(vocab[:-1]) and "\n" in vocab
    x, y = exp.train.tensors
    text = "".join(vocab[i] for i in x[0])
    assert text.startswith('"""')  # textwrap.py opens with its docstring
    assert torch.equal(x[0, 1:], y[0, :-1])  # targets are the inputs moved by one


def test_loading_leaves_global_random_state_alone() -> None:
    import random

    import numpy as np

    from nnrecipe.builtin import mnist1d

    mnist1d._arrays.cache_clear()  # force the generator to run again
    random.seed(5)
    np.random.seed(5)
    expected = (random.random(), np.random.rand())
    random.seed(5)
    np.random.seed(5)
    load_builtin("mnist1d")
    assert (random.random(), np.random.rand()) == expected
