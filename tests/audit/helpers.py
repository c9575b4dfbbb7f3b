"""Small generated datasets for the data checks: clean by construction, with knobs that plant one problem."""

from __future__ import annotations

import numpy as np

from nnrecipe.audit.sources import AuditData, from_arrays
from nnrecipe.runner import audit_data


def blobs(n: int, *, classes: int = 4, features: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around fixed centres: learnable, standardized, no duplicates."""
    centres = np.random.default_rng(1234).normal(size=(classes, features)) * 1.5
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(size=(n, features))).astype(np.float32), y.astype(np.int64)


def images(n: int, *, classes: int = 3, side: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy oriented gratings, one orientation and frequency per class, uint8 (n, side, side)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    yy, xx = np.mgrid[0:side, 0:side] / side
    angle = y[:, None, None] * np.pi / classes + rng.normal(0, 0.1, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    wave = np.sin(2 * np.pi * 2.5 * (np.cos(angle) * xx + np.sin(angle) * yy) + phase)
    img = 128 + 80 * wave + rng.normal(0, 12, (n, side, side))
    return np.clip(img, 0, 255).astype(np.uint8), y.astype(np.int64)


def data(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray] | None = None,
         **kwargs: object) -> AuditData:
    splits = {"train": train} if val is None else {"train": train, "val": val}
    return from_arrays("generated", splits, **kwargs)  # type: ignore[arg-type]


def statuses(d: AuditData, *ids: str) -> dict[str, str]:
    return {c.id: c.status for c in audit_data(d, ids=list(ids) or None).checks}


def result(d: AuditData, check_id: str):  # type: ignore[no-untyped-def]
    return audit_data(d, ids=[check_id]).checks[0]
