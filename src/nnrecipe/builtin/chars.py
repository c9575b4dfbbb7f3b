"""Next-character prediction on Python source: a few modules of this interpreter's own standard library.

About 270k characters (the exact text depends on the Python version, and is read offline). Vocabulary: the
printable ASCII characters present plus newline, sorted; anything else (a rare accented letter, a tab) maps to
one unknown token, `UNKNOWN`, placed last. Each file is cut into contiguous blocks, its first 80% for train,
the next 10% for val and the last 10% for test, so no split sees text next to another split's text, and
every split has some of every file. Within a block, non-overlapping windows of T=64: input ids[s:s+T],
target ids[s+1:s+T+1], both int64 tensors of shape (T,).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nnrecipe.builtin._common import scaled, tensor_dataset
from nnrecipe.experiment import Experiment

MODULES = ("textwrap", "argparse", "collections/__init__", "json/decoder", "functools", "heapq", "fractions")
CONTEXT = 64
FRACTIONS = (0.8, 0.1, 0.1)  # train, val, test: contiguous blocks of each file, in this order
UNKNOWN = "\ufffd"
DEFAULT_DEPTH = 2
BASE_DIM = 64
HEADS = 4


def _read_sources() -> list[str]:
    import sysconfig
    from pathlib import Path

    root = Path(sysconfig.get_paths()["stdlib"])
    return [(root / f"{name}.py").read_text(encoding="utf-8") for name in MODULES]


def _keep(char: str) -> bool:
    return char == "\n" or (char.isascii() and char.isprintable())


@functools.lru_cache(maxsize=1)
def corpus() -> tuple[list[str], list[tuple[np.ndarray, np.ndarray]]]:
    """(vocab, [(ids, starts) for train, val, test]): each split's token ids and each window's start offset
    in the concatenated text (the offsets let tests prove the splits come from disjoint text)."""
    texts = _read_sources()
    chars = sorted({c for text in texts for c in text if _keep(c)})
    unknown_needed = any(not _keep(c) for text in texts for c in text)
    vocab = chars + ([UNKNOWN] if unknown_needed else [])
    lookup = {c: i for i, c in enumerate(chars)}
    unknown_id = len(chars)
    splits: list[list[np.ndarray]] = [[], [], []]
    starts: list[list[np.ndarray]] = [[], [], []]
    offset = 0
    for text in texts:
        ids = np.array([lookup.get(c, unknown_id) for c in text], dtype=np.int64)
        bounds = np.cumsum([0] + [int(len(ids) * f) for f in FRACTIONS[:-1]] + [len(ids)])
        bounds[-1] = len(ids)
        for k in range(3):
            block_ids, block_starts = _windows(ids[bounds[k] : bounds[k + 1]])
            splits[k].append(block_ids)
            starts[k].append(block_starts + offset + bounds[k])
        offset += len(ids)
    return vocab, [(np.concatenate(splits[k]), np.concatenate(starts[k])) for k in range(3)]


def _windows(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, T+1) non-overlapping windows of a block (input = [:, :-1], target = [:, 1:]) and their offsets."""
    count = (len(ids) - 1) // CONTEXT  # each window needs T inputs plus one more character as the last target
    starts = np.arange(count) * CONTEXT
    index = starts[:, None] + np.arange(CONTEXT + 1)[None, :]  # (N, T+1)
    return ids[index], starts


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, time, dim = x.shape
        q, k, v = self.qkv(x).split(dim, dim=-1)  # each (B, T, C)
        q, k, v = (t.view(batch, time, self.heads, dim // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, C/H)
        # is_causal: position t attends only to positions <= t, so no output can see a later input.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(batch, time, dim))  # (B, T, C)


class Block(nn.Module):
    """A pre-norm transformer block: attention then an MLP, each on a residual path."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), _dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyGPT(nn.Module):
    """A small GPT: token + learned positional embeddings, causal blocks, final norm, linear head to logits."""

    def __init__(self, *, vocab_size: int, width: float = 1.0, depth: int = DEFAULT_DEPTH, dropout: float = 0.0) -> None:
        super().__init__()
        dim = HEADS * max(1, scaled(BASE_DIM, width) // HEADS)  # a whole number of dims per head
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = nn.Embedding(CONTEXT, dim)
        self.drop = _dropout(dropout)
        self.blocks = nn.Sequential(*[Block(dim, HEADS, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size, bias=False)
        self.apply(_init_weights)
        for name, param in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                # GPT-2: residual projections scaled by depth, so the residual stream starts at unit scale.
                nn.init.normal_(param, std=0.02 / math.sqrt(2 * depth))
        # A small head: logits start near zero, so the loss starts at -log(1/V).
        nn.init.normal_(self.head.weight, std=0.002)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        time = ids.shape[1]
        pos = torch.arange(time, device=ids.device)
        x = self.drop(self.tokens(ids) + self.positions(pos))  # (B, T, C)
        return self.head(self.norm(self.blocks(x)))  # (B, T, V)


def _dropout(p: float) -> nn.Module:
    """No Dropout module at all when p is 0, so the default model holds no dropout a check could flag."""
    return nn.Dropout(p) if p > 0 else nn.Identity()


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def experiment() -> Experiment:
    vocab, splits = corpus()
    train, val, test = (
        tensor_dataset(ids[:, :-1], ids[:, 1:], x_dtype=torch.int64, y_dtype=torch.int64) for ids, _ in splits
    )
    return Experiment(
        name="chars",
        task="sequence",
        train=train,
        val=val,
        test=test,
        # width scales the model dim (kept a multiple of the 4 heads), depth is the number of blocks
        model=functools.partial(TinyGPT, vocab_size=len(vocab)),
        capacity={"width": [0.25, 0.5, 1.0, 2.0, 4.0], "depth": [1, 2, 3, 4, 6]},
        regularizers={"dropout": [0.1, 0.2, 0.3]},
        batch_size=64,
        epochs=10,
        num_classes=len(vocab),
        seed=0,
        kind="text",
        vocab=list(vocab),
        meta={
            "description": "Next-character prediction on Python standard-library source with a tiny causal GPT.",
            "reference": {},
            "context": CONTEXT,
        },
    )
