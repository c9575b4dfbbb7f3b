"""The judges are pure: numbers and thresholds in, a verdict out (no torch, no loop)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from nnrecipe.watching.checks.base import WatchCheck, run_watch_check_pictured
from nnrecipe.watching.checks.gradient_spike import GradientSpike, GradientSpikeThresholds, find_spikes
from nnrecipe.watching.checks.input_stats import InputStats
from nnrecipe.watching.checks.loss_decreases import LossDecreases
from nnrecipe.watching.checks.lr_schedule import LrSchedule, collapse_step
from nnrecipe.watching.checks.overfitting import Overfitting
from nnrecipe.watching.record import Series, WatchRecord
from nnrecipe.watching.watcher import is_sampled


def _series(values: list[float], every: int = 1) -> Series:
    return Series(list(range(0, every * len(values), every)), list(values))


def _record(**series: list[float]) -> WatchRecord:
    record = WatchRecord(finished=True)
    for name, values in series.items():
        setattr(record, name, _series(values))
    record.steps = max(len(v) for v in series.values())
    return record


def _judge(check: WatchCheck[Any, Any], record: WatchRecord) -> str:
    return check.judge(check.measure(record), check.thresholds).status


def test_loss_decreases_weighs_the_drop_against_the_noise() -> None:
    rng = random.Random(0)
    noisy_descent = [2.0 - 0.004 * i + rng.gauss(0, 0.4) for i in range(60)]
    assert _judge(LossDecreases(), _record(losses=noisy_descent)) == "pass"
    flat = [2.0 + rng.gauss(0, 0.05) for _ in range(200)]
    assert _judge(LossDecreases(), _record(losses=flat)) == "fail"
    rising = [1.0 + 0.01 * i + rng.gauss(0, 0.02) for i in range(100)]
    assert _judge(LossDecreases(), _record(losses=rising)) == "fail"
    down_then_up = [2.0 - 0.02 * i for i in range(80)] + [0.4 + 0.04 * i for i in range(40)]
    assert _judge(LossDecreases(), _record(losses=down_then_up)) == "fail"
    assert _judge(LossDecreases(), _record(losses=[5.0] * 50)) == "fail"  # a loss that never moves at all


def test_gradient_spikes_recovered_repeated_or_not() -> None:
    t = GradientSpikeThresholds()
    rng = random.Random(1)
    base = [1.0 * (1 + 0.2 * rng.random()) for _ in range(200)]
    losses = _series([1.0] * 200)
    one = base.copy()
    one[100] = 50.0
    spikes = find_spikes(_series(one), losses, t, finished=True)
    assert len(spikes) == 1 and spikes[0]["recovered"] and spikes[0]["step"] == 100
    stuck = base[:100] + [50.0] + [20.0] * 99
    assert find_spikes(_series(stuck), losses, t, finished=True)[0]["recovered"] is False
    many = base.copy()
    for i in (40, 90, 140):
        many[i] = 40.0
    assert _judge(GradientSpike(), _record(grad_norms=many, losses=[1.0] * 200)) == "fail"
    # a tiny, wildly varying norm near convergence: 10x the median is within its own spread
    wild = [10 ** rng.uniform(-3, 0) for _ in range(200)]
    assert find_spikes(_series(wild), losses, t, finished=True) == []
    # a spike at the very end of a running loop is not judged yet
    assert find_spikes(_series(base[:150] + [50.0]), losses, t, finished=False)[0]["recovered"] is None


def test_overfitting_needs_a_sustained_rise_past_the_noise_while_train_falls() -> None:
    rng = random.Random(2)
    train = [2.0 * 0.98 ** i for i in range(300)]
    rises = [1.0 - 0.05 * i for i in range(10)] + [0.5 + 0.04 * i for i in range(20)]
    record = _record(losses=train)
    record.val_losses = _series(rises, every=10)
    assert _judge(Overfitting(), record) == "warn"
    record.val_losses = _series([0.5 + rng.gauss(0, 0.05) for _ in range(30)], every=10)
    assert _judge(Overfitting(), record) == "pass"


def test_lr_collapse_is_a_stretch_to_the_end_not_a_dip() -> None:
    assert collapse_step([1.0] * 10 + [1e-4] * 90, 1e-3) == 10
    restarts = ([1.0] * 9 + [1e-5]) * 10 + [1.0]  # warm restarts dip and come back
    assert collapse_step(restarts, 1e-3) is None
    assert collapse_step([0.0, 0.5, 1.0, 1.0], 1e-3) is None  # a warm-up from zero is no collapse
    record = _record(lrs=[1.0] * 10 + [1e-4] * 90)
    record.planned_steps = 100
    assert _judge(LrSchedule(), record) == "fail"
    record.planned_steps = 15  # collapsing at 10 of 15 planned steps is the schedule ending on time
    assert _judge(LrSchedule(), record) == "pass"


def test_sampled_steps_are_dense_early_and_sparse_later() -> None:
    sampled = [s for s in range(4096) if is_sampled(s)]
    assert sampled[:8] == [0, 1, 3, 7, 15, 31, 63, 127]
    assert len(sampled) < 40 and sampled[-1] == 4095


def test_input_stats_pictures_the_per_feature_spread_beside_the_documented_moments() -> None:
    record = WatchRecord(finished=True)
    record.inputs = [{"step": 0, "shape": [4, 3], "dtype": "float32", "integer": False, "values": 12, "non_finite": 0,
                      "mean": 0.1, "std": 0.9, "min": -1.5, "max": 1.5, "feature_mean": [0.0, 0.1, 0.2],
                      "feature_std": [1.0, 0.9, 0.0], "constant_features": 1}]
    result, shown = run_watch_check_pictured(InputStats(), record)
    assert result.status == "pass"
    assert result.evidence["mean"] == 0.1 and result.evidence["constant_features"] == 1
    assert not {"feature_mean", "feature_std", "per_channel"} & set(result.evidence)
    assert set(shown) == {"mean", "std", "per_channel"} and shown["per_channel"] is False
    assert np.array_equal(shown["mean"], [0.0, 0.1, 0.2]) and np.array_equal(shown["std"], [1.0, 0.9, 0.0])
