"""Next-character prediction over text taken from the Python standard library's own sources, with a tiny GPT.

The text is a fixed list of stdlib modules read from this Python's installation (no download); the vocabulary is
the printable characters present, plus one unknown token. The text is cut into non-overlapping windows of
T=64 characters (input ids[t], target ids[t+1]), and the splits are contiguous blocks of the text — 80% train,
10% val, 10% test — so no window overlaps or borders one from another split.
"""

from __future__ import annotations

import functools
import math
import string
import sysconfig
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

from nnrecipe.builtin._common import scaled
from nnrecipe.experiment import Experiment

MODULES = ("argparse.py", "difflib.py", "dataclasses.py", "textwrap.py", "shlex.py", "fractions.py")
CONTEXT = 64
FRACTIONS = (0.8, 0.1, 0.1)
UNKNOWN = "\x00"
DEFAULT_DEPTH = 2
BASE_DIM = 64
HEADS = 4


@functools.lru_cache(maxsize=1)
def _corpus() -> tuple[torch.Tensor, tuple[str, ...]]:
    """The token ids of the whole text and the vocabulary (index = token id)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    text = "\n".join((stdlib / name).read_text(encoding="utf-8") for name in MODULES)
    allowed = set(string.printable) - {"\x0b", "\x0c"}
    text = "".join(c if c in allowed else UNKNOWN for c in text)
    vocab = tuple(sorted(set(text) | {UNKNOWN}))
    index = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([index[c] for c in text], dtype=torch.int64), vocab


def _windows(ids: torch.Tensor) -> TensorDataset:
    """Non-overlapping windows: inputs ids[t], targets ids[t+1]."""
    n = (len(ids) - 1) // CONTEXT
    x = ids[: n * CONTEXT].view(n, CONTEXT)
    y = ids[1 : n * CONTEXT + 1].view(n, CONTEXT)
    return TensorDataset(x.clone(), y.clone())


class Block(nn.Module):
    """Pre-norm transformer block with causal self-attention."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, HEADS, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), nn.Dropout(dropout))

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        a = self.norm1(h)
        h = h + self.attn(a, a, a, attn_mask=mask, need_weights=False)[0]  # (B, T, C)
        return h + self.mlp(self.norm2(h))


class TinyGPT(nn.Module):
    """Token and learned position embeddings, causal transformer blocks, a linear head to the vocabulary."""

    def __init__(self, vocab: int, *, width: float = 1.0, depth: int = DEFAULT_DEPTH, dropout: float = 0.0) -> None:
        super().__init__()
        dim = HEADS * scaled(BASE_DIM // HEADS, width)  # divisible by the number of heads
        self.tokens = nn.Embedding(vocab, dim)
        self.positions = nn.Embedding(CONTEXT, dim)
        self.blocks = nn.ModuleList(Block(dim, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)
        with torch.no_grad():  # near-uniform predictions at init: the loss starts at log(vocab)
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        # True above the diagonal: position t may not attend to any position after it.
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=ids.device), diagonal=1)
        h = self.tokens(ids) + self.positions(torch.arange(t, device=ids.device))  # (B, T, C)
        for block in self.blocks:
            h = block(h, mask)
        return self.head(self.norm(h))  # (B, T, V)


def model_family(width: float = 1.0, depth: int | None = None, dropout: float = 0.0) -> Callable[[], nn.Module]:
    """A factory of TinyGPT: `width` scales the embedding size, `depth` is the number of blocks."""
    vocab = len(_corpus()[1])
    return functools.partial(TinyGPT, vocab, width=width, depth=DEFAULT_DEPTH if depth is None else depth,
                             dropout=dropout)


def experiment() -> Experiment:
    ids, vocab = _corpus()
    cut1 = int(len(ids) * FRACTIONS[0])
    cut2 = cut1 + int(len(ids) * FRACTIONS[1])
    return Experiment(
        name="chars",
        task="sequence",
        train=_windows(ids[:cut1]),
        val=_windows(ids[cut1:cut2]),
        test=_windows(ids[cut2:]),
        model=model_family(),
        optimizer=lambda params: torch.optim.Adam(params, lr=1e-3),
        batch_size=64,
        epochs=10,
        num_classes=len(vocab),
        seed=0,
        meta={
            "kind": "text",
            "description": f"next-character prediction over {len(ids):,} characters of Python's standard library",
            "reference": {"uniform": math.log(len(vocab))},
            "model_family": model_family,
            "vocab": list(vocab),
        },
    )
