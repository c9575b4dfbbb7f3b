"""Small real data, built the way real code builds it: scikit-learn's bundled tables, text and identifiers from
the Python standard library's own source, seeded generated tables. Nothing downloads."""

from __future__ import annotations

import functools
import importlib
import inspect
import io
import re

import numpy as np

#: standard-library modules whose source is the text corpus (pure Python, present on every install)
MODULES = ("textwrap", "string", "fractions", "statistics", "dataclasses", "functools", "enum", "csv", "calendar",
           "difflib", "heapq", "shutil", "tempfile", "argparse", "configparser", "pprint", "json.decoder",
           "json.encoder", "urllib.parse", "zipfile")


@functools.cache
def stdlib_source(modules: tuple[str, ...] = MODULES) -> bytes:
    return "".join(inspect.getsource(importlib.import_module(m)) for m in modules).encode()


def byte_windows(text: bytes, length: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """nanoGPT-style next-token windows of a byte text: x = ids[s : s + T], y = ids[s + 1 : s + T + 1]."""
    ids = np.frombuffer(text, dtype=np.uint8).astype(np.int64)
    starts = np.arange(0, len(ids) - length - 1, stride)
    index = starts[:, None] + np.arange(length)[None, :]
    return ids[index], ids[index + 1]


def padded_next_token(sequences: list[list[int]], *, pad: int = 0, ignore: int = -1, copy: bool = False
                      ) -> tuple[np.ndarray, np.ndarray]:
    """makemore-style rows: x = [start] + seq, y = seq + [end], padded to one length; y is `ignore` past the end
    (what cross_entropy(..., ignore_index=-1) skips). `copy` makes the broken twin: y = x, padding as before."""
    width = max(len(s) for s in sequences) + 1
    x = np.full((len(sequences), width), pad, dtype=np.int64)
    y = np.full((len(sequences), width), ignore, dtype=np.int64)
    for i, seq in enumerate(sequences):
        x[i, : len(seq) + 1] = [0, *seq]
        y[i, : len(seq) + 1] = [0, *seq] if copy else [*seq, 0]
    return x, y


def source_lines(modules: tuple[str, ...] = ("textwrap", "string", "calendar")) -> list[list[int]]:
    """The non-blank lines of some standard-library modules, as byte ids (1..255; 0 starts and ends a line)."""
    lines = stdlib_source(modules).decode().splitlines()
    return [list(line.encode()) for line in lines if line.strip()]


@functools.cache
def function_names(modules: tuple[str, ...] = MODULES) -> tuple[str, ...]:
    """Every function name defined in the modules' source, in order: a names list whose source repeats names
    (`get`, `items`, `copy`, ... are defined in many classes)."""
    names = re.findall(r"^\s*def (\w+)", stdlib_source(modules).decode(), flags=re.M)
    return tuple(n for n in names if not n.startswith("__"))


def encode_names(names: list[str] | tuple[str, ...], alphabet: str) -> list[list[int]]:
    stoi = {c: i + 1 for i, c in enumerate(alphabet)}
    return [[stoi[c] for c in name] for name in names]


def random_split(x: np.ndarray, y: np.ndarray, train: float = 0.8, seed: int = 0
                 ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(seed).permutation(len(x))
    n = int(train * len(x))
    return (x[order[:n]], y[order[:n]]), (x[order[n:]], y[order[n:]])


def table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A scikit-learn bundled table, raw: (features float32, targets)."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    y = bunch.target.astype(np.float32) if name == "diabetes" else bunch.target.astype(np.int64)
    return bunch.data.astype(np.float32), y


def polynomial_table(n: int = 1000, degree: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """PolynomialFeatures of one variable, x, x^2, ..., x^degree: dense, low-dimensional, strongly correlated;
    the target a smooth function of x plus noise a tenth of its spread."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1, 1, n)
    x = np.stack([t**k for k in range(1, degree + 1)], axis=1).astype(np.float32)
    return x, (np.sin(3 * t) + 0.1 * rng.normal(size=n)).astype(np.float32)


def csv_round_trip(rows: np.ndarray) -> np.ndarray:
    """The rows written to a CSV with 6 significant digits and read back: a near copy of each."""
    buffer = io.StringIO()
    np.savetxt(buffer, rows, fmt="%.6g", delimiter=",")
    buffer.seek(0)
    return np.loadtxt(buffer, delimiter=",", dtype=np.float32, ndmin=2)


def sine_waves(n: int = 64, length: int = 16, period: float = 4.0, seed: int = 2, *, shift: int = 1
               ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """pytorch/examples time_sequence_prediction: sin((t + phase) / period), input data[:, :-1], target the
    series `shift` steps on (shift=0: the broken twin, target = input); a quarter of the series is val."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(-4 * period, 4 * period, (n, 1))
    data = np.sin((np.arange(length + 1) + phase) / period).astype(np.float32)
    x, y = data[:, :length - 1], data[:, shift : shift + length - 1]
    k = n // 4
    return (x[k:], y[k:]), (x[:k], y[:k])


def polynomial_regression(n: int = 640, degree: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """pytorch/examples regression: y = w . [x, x^2, x^3, x^4] + b exactly (no noise), x ~ U(-1, 1)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1, 1, n)
    x = np.stack([t**k for k in range(1, degree + 1)], axis=1).astype(np.float32)
    return x, (x @ rng.normal(0, 5, degree) + rng.normal(0, 5)).astype(np.float32)
