"""Data and models the realcode corpus shares, written the way public repositories write them.

Every spec in tests/realcode is a training setup in the style of a well-known public code base (minGPT /
nanoGPT, makemore, pytorch/examples, the LSTM-over-image-rows tutorials, Hugging Face-style models, TCNs),
written anew, tiny, on data that ships with the machine: scikit-learn's bundled sets, text from the Python
standard library, seeded generated data. Nothing downloads.

The models carry a keyword for the one line a broken twin gets wrong (`masked=False`, `chomp_left=True`, ...),
and the comment at that line says what the real bug is; the correct setups use the defaults.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import inspect
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, TensorDataset

# --------------------------------------------------------------------------------------------------------------
# tables and images (scikit-learn's bundled sets)


def shuffled_split(x: torch.Tensor, y: torch.Tensor, n_train: int, seed: int = 0
                   ) -> tuple[TensorDataset, TensorDataset]:
    """A seeded random split, as `torch.utils.data.random_split` or `train_test_split(shuffle=True)` gives."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    return TensorDataset(x[:n_train], y[:n_train]), TensorDataset(x[n_train:], y[n_train:])


@functools.cache
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.tensor(d.images, dtype=torch.float32), torch.tensor(d.target)


#: the pixel mean and std of the digits scaled to [0, 1], written down once the way pytorch/examples writes
#: `transforms.Normalize((0.1307,), (0.3081,))` for MNIST
DIGITS_MEAN, DIGITS_STD = 0.3053, 0.3787


def digits_images(n_train: int = 1400) -> tuple[TensorDataset, TensorDataset]:
    """(N, 1, 8, 8) images, ToTensor() then Normalize(mean, std), and class ids."""
    images, target = _digits()
    x = ((images / 16.0 - DIGITS_MEAN) / DIGITS_STD).unsqueeze(1)
    return shuffled_split(x, target, n_train)


def digits_flat(n_train: int = 1400) -> tuple[TensorDataset, TensorDataset]:
    """(N, 64) pixels in [0, 1] (ToTensor's scaling, no Normalize), the way many MLP tutorials feed them."""
    images, target = _digits()
    return shuffled_split(images.reshape(len(images), -1) / 16.0, target, n_train)


def table(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """An sklearn table exactly as it ships: raw features (float32), targets (long for classes, float else)."""
    from sklearn import datasets

    d = getattr(datasets, f"load_{name}")()
    x = torch.tensor(d.data, dtype=torch.float32)
    y = torch.tensor(d.target)
    return x, (y.float() if name == "diabetes" else y.long())


class StandardScaler:
    """sklearn's StandardScaler, in torch: fit on the training rows only, then transform every split."""

    def fit(self, x: torch.Tensor) -> StandardScaler:
        self.mean_, self.scale_ = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-12)
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean_) / self.scale_


# --------------------------------------------------------------------------------------------------------------
# text from the standard library


@functools.cache
def zen() -> str:
    """The Zen of Python, decoded from `this.s` (importing `this` prints it; kept quiet here)."""
    with contextlib.redirect_stdout(io.StringIO()):
        import this
    return codecs.decode(this.s, "rot13")


#: modules whose docstrings make the corpus's prose (stable for a given Python)
DOC_MODULES = ("json", "textwrap", "string", "collections", "functools", "itertools", "heapq", "bisect",
               "random", "statistics", "fractions", "difflib", "shlex", "argparse", "pathlib", "datetime",
               "decimal", "logging", "dataclasses", "enum", "contextlib", "csv")


@functools.cache
def stdlib_docs(modules: tuple[str, ...] = DOC_MODULES) -> str:
    """The docstrings of some standard-library modules and of their public functions and classes."""
    import importlib

    docs = []
    for name in modules:
        module = importlib.import_module(name)
        docs.append(inspect.getdoc(module) or "")
        for attr, obj in sorted(vars(module).items()):
            if attr.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                docs.append(inspect.getdoc(obj) or "")
    return "\n".join(d for d in docs if d)


def char_text(n_chars: int = 5000) -> str:
    """A few thousand characters of English: the Zen, then module docstrings (minGPT's `input.txt`)."""
    return (zen() + "\n" + stdlib_docs(("json", "textwrap", "string", "functools")))[:n_chars]


class CharDataset(Dataset):
    """minGPT's CharDataset: every window of block_size + 1 characters; x is the window but its last char, y
    the window but its first. `shift=0` is the broken twin's `y = dix[:-1]` (targets equal the inputs)."""

    def __init__(self, data: str, block_size: int, stoi: dict[str, int], *, shift: int = 1) -> None:
        self.data = torch.tensor([stoi[c] for c in data], dtype=torch.long)
        self.block_size, self.shift = block_size, shift

    def __len__(self) -> int:
        return len(self.data) - self.block_size

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        chunk = self.data[idx : idx + self.block_size + 1]
        x = chunk[:-1]
        y = chunk[1:] if self.shift else chunk[:-1]
        return x, y


def char_splits(block_size: int = 32, *, shift: int = 1) -> tuple[CharDataset, CharDataset, int]:
    """nanoGPT's split of one text: the first 90% trains, the last 10% validates. (train, val, vocab_size)"""
    text = char_text()
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    cut = int(0.9 * len(text))
    return (CharDataset(text[:cut], block_size, stoi, shift=shift),
            CharDataset(text[cut:], block_size, stoi, shift=shift), len(chars))


class StridedChars(Dataset):
    """Non-overlapping windows of a character stream (x, y = chunk[:-1], chunk[1:])."""

    def __init__(self, ids: torch.Tensor, length: int) -> None:
        self.ids, self.length = ids, length

    def __len__(self) -> int:
        return (len(self.ids) - 1) // self.length

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        chunk = self.ids[i * self.length : (i + 1) * self.length + 1]
        return chunk[:-1], chunk[1:]


def char_stream(length: int = 48) -> tuple[StridedChars, StridedChars, int]:
    text = char_text(5500)
    chars = sorted(set(text))
    ids = torch.tensor([chars.index(c) for c in text], dtype=torch.long)
    cut = int(0.85 * len(ids))
    return StridedChars(ids[:cut], length), StridedChars(ids[cut:], length), len(chars)


# --------------------------------------------------------------------------------------------------------------
# makemore: a list of names, one per row, padded


@functools.cache
def names() -> list[str]:
    """makemore's names.txt, made from the machine: standard-library module names, builtins and keywords."""
    import builtins
    import keyword
    import sys

    found = {n.strip("_") for n in [*sys.stdlib_module_names, *dir(builtins), *keyword.kwlist]}
    words = sorted(n for n in found if n and n.isascii() and n.replace("_", "").isalpha() and n.islower()
                   and 2 <= len(n) <= 12)
    order = torch.randperm(len(words), generator=torch.Generator().manual_seed(3)).tolist()
    return [words[i] for i in order]


class NamesDataset(Dataset):
    """makemore's CharDataset: x = <START> then the name, y = the name then <END>, the rest of y is -1 (the
    loss skips it). `target_offset=1` is the broken twin's off-by-one (y written where x is)."""

    def __init__(self, words: list[str], chars: list[str], max_word_length: int, *, target_offset: int = 0
                 ) -> None:
        self.words, self.max_word_length, self.target_offset = words, max_word_length, target_offset
        self.stoi = {ch: i + 1 for i, ch in enumerate(chars)}  # 0 is the <START>/<END> token

    def __len__(self) -> int:
        return len(self.words)

    def get_vocab_size(self) -> int:
        return len(self.stoi) + 1

    def get_output_length(self) -> int:
        return self.max_word_length + 1

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        ix = torch.tensor([self.stoi[w] for w in self.words[idx]], dtype=torch.long)
        x = torch.zeros(self.max_word_length + 1, dtype=torch.long)
        y = torch.zeros(self.max_word_length + 1, dtype=torch.long)
        x[1 : 1 + len(ix)] = ix
        o = self.target_offset
        y[o : o + len(ix)] = ix
        y[o + len(ix) + 1 :] = -1  # index -1 masks the loss at the inactive positions
        return x, y


def names_splits(*, target_offset: int = 0) -> tuple[NamesDataset, NamesDataset]:
    words = names()
    chars = sorted(set("".join(words)))
    longest = max(len(w) for w in words)
    n_val = len(words) // 8
    return (NamesDataset(words[:-n_val], chars, longest, target_offset=target_offset),
            NamesDataset(words[-n_val:], chars, longest, target_offset=target_offset))


# --------------------------------------------------------------------------------------------------------------
# words (PTB-style corpus and padded sentences)


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z]+|[.,]", text.lower())


class Dictionary:
    """word_language_model's Dictionary: word <-> index, with an <unk> for the rare ones."""

    def __init__(self, specials: Sequence[str] = ()) -> None:
        self.word2idx: dict[str, int] = {}
        self.idx2word: list[str] = []
        for s in specials:
            self.add_word(s)

    def add_word(self, word: str) -> int:
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self) -> int:
        return len(self.idx2word)


def build_dictionary(tokens: Iterable[str], size: int, specials: Sequence[str]) -> Dictionary:
    d = Dictionary(specials)
    for word, _ in Counter(t for t in tokens if t not in specials).most_common(size - len(specials)):
        d.add_word(word)
    return d


class BpttWindows(Dataset):
    """A token stream cut into bptt-long windows: x = ids[i : i+bptt], y = ids[i+1 : i+1+bptt]
    (word_language_model's get_batch, per sample and batch-first)."""

    def __init__(self, ids: torch.Tensor, bptt: int) -> None:
        self.ids, self.bptt = ids, bptt

    def __len__(self) -> int:
        return (len(self.ids) - 1) // self.bptt

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = i * self.bptt
        return self.ids[s : s + self.bptt], self.ids[s + 1 : s + 1 + self.bptt]


def word_corpus(bptt: int = 20, vocab: int = 400) -> tuple[BpttWindows, BpttWindows, int]:
    """The docstrings as one word stream ('<eos>' ends each line), split 85/15 in reading order."""
    lines = [words_of(line) + ["<eos>"] for line in stdlib_docs().splitlines() if line.strip()]
    tokens = [w for line in lines for w in line]
    d = build_dictionary(tokens, vocab, ["<unk>", "<eos>"])
    ids = torch.tensor([d.word2idx.get(w, 0) for w in tokens], dtype=torch.long)
    cut = int(0.85 * len(ids))
    return BpttWindows(ids[:cut], bptt), BpttWindows(ids[cut:], bptt), len(d)


#: torchtext-tutorial special tokens
UNK_IDX, PAD_IDX, BOS_IDX, EOS_IDX = 0, 1, 2, 3


def padded_sentences(length: int = 24, vocab: int = 1000) -> tuple[TensorDataset, TensorDataset, int]:
    """One sentence per row: <bos> words <eos> <pad>..., x = row[:-1], y = row[1:] (pads stay PAD_IDX).

    The sentences are deduplicated, split 85/15 in reading order, and the vocabulary is built from the
    training sentences only (torchtext's build_vocab_from_iterator over the train iterator)."""
    sentences = [words_of(s) for s in re.split(r"(?<=\.)\s+", stdlib_docs().replace("\n", " "))]
    sentences = [s[: length - 1] for s in sentences if len(s) >= 4]
    sentences = [list(s) for s in dict.fromkeys(tuple(s) for s in sentences)]
    cut = int(0.85 * len(sentences))
    d = build_dictionary((w for s in sentences[:cut] for w in s), vocab, ["<unk>", "<pad>", "<bos>", "<eos>"])
    rows = torch.full((len(sentences), length + 1), PAD_IDX, dtype=torch.long)
    for i, s in enumerate(sentences):
        ids = [BOS_IDX] + [d.word2idx.get(w, UNK_IDX) for w in s] + [EOS_IDX]
        rows[i, : len(ids)] = torch.tensor(ids)
    rows_train, rows_val = rows[:cut], rows[cut:]
    return (TensorDataset(rows_train[:, :-1], rows_train[:, 1:]),
            TensorDataset(rows_val[:, :-1], rows_val[:, 1:]), len(d))


def text_lines(length: int = 40) -> tuple[list[str], list[str], list[str]]:
    """Lines of the Zen and of some docstrings, for a per-line language model: (train, val, chars)."""
    lines = [ln.strip() for ln in (zen() + "\n" + stdlib_docs(("json", "textwrap", "string"))).splitlines()]
    lines = list(dict.fromkeys(ln[:length] for ln in lines if len(ln) >= 8))  # deduplicated, then split
    order = torch.randperm(len(lines), generator=torch.Generator().manual_seed(1)).tolist()
    lines = [lines[i] for i in order]
    chars = sorted(set("".join(lines)))
    n_val = len(lines) // 8
    return lines[:-n_val], lines[-n_val:], chars


# --------------------------------------------------------------------------------------------------------------
# generated data


def sine_waves(n: int = 64, length: int = 16, period: float = 4.0, seed: int = 2
               ) -> tuple[TensorDataset, TensorDataset]:
    """time_sequence_prediction's generate_sine_wave: sin((t + phase) / period); input data[:, :-1],
    target data[:, 1:] (both (N, L-1), one value per step). The phases are drawn continuously (the example's
    integer phases repeat, which puts copies of the same series in both splits)."""
    gen = torch.Generator().manual_seed(seed)
    phase = (torch.rand(n, 1, generator=gen) * 2 - 1) * 4 * period
    t = torch.arange(length, dtype=torch.float32) + phase
    data = torch.sin(t / period)
    inputs, targets = data[:, :-1], data[:, 1:]
    n_val = n // 4
    return TensorDataset(inputs[n_val:], targets[n_val:]), TensorDataset(inputs[:n_val], targets[:n_val])


# --------------------------------------------------------------------------------------------------------------
# minGPT / nanoGPT / makemore's Transformer


@dataclass
class GPTConfig:
    block_size: int = 32
    vocab_size: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 48
    dropout: float = 0.1
    bias: bool = True
    #: broken twin: False leaves out the masked_fill (attention sees the future)
    masked: bool = True
    #: nanoGPT's attention through F.scaled_dot_product_attention
    flash: bool = False
    #: broken twin: True passes dropout_p=self.dropout to SDPA even in eval mode
    dropout_always: bool = False


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        assert config.n_embd % config.n_head == 0
        # key, query, value projections for all heads, in a batch
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
        self.masked, self.flash, self.dropout_always = config.masked, config.flash, config.dropout_always
        if not self.flash:
            # causal mask to ensure that attention is only applied to the left in the input sequence
            self.register_buffer("bias", torch.tril(torch.ones(config.block_size, config.block_size))
                                 .view(1, 1, config.block_size, config.block_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        if self.flash:
            p = self.dropout if (self.training or self.dropout_always) else 0.0  # broken twin: always on
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=p, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            if self.masked:  # broken twin: this line left out
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))  # type: ignore[index]
            att = F.softmax(att, dim=-1)
            att = self.attn_dropout(att)
            y = att @ v  # (B, nh, T, T) x (B, nh, T, hs) -> (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble all head outputs side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT language model: token and position embeddings, pre-LN blocks, a final LayerNorm and an lm_head
    whose weight is the token embedding's (weight tying). forward(idx, targets=None) -> (logits, loss)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # type: ignore[union-attr]  # weight tying
        self.apply(self._init_weights)
        # scaled init of the residual projections, per GPT-2
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, t = idx.size()
        assert t <= self.config.block_size, f"Cannot forward sequence of length {t}, block size is only " \
                                            f"{self.config.block_size}"
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # type: ignore[operator]
        for block in self.transformer.h:  # type: ignore[union-attr]
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))  # type: ignore[operator]
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


def configure_optimizers(params: Iterable[nn.Parameter], *, weight_decay: float = 0.1, learning_rate: float = 3e-3,
                         betas: tuple[float, float] = (0.9, 0.95)) -> torch.optim.AdamW:
    """nanoGPT's configure_optimizers: every 2D weight (matmuls, embeddings) decays, biases and LayerNorm
    gains do not. Works from the parameters alone, so it fits Experiment(optimizer=...)."""
    params = [p for p in params if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=learning_rate, betas=betas)


def warmup_cosine(warmup_iters: int, lr_decay_iters: int, min_ratio: float = 0.1) -> Callable[[int], float]:
    """nanoGPT's get_lr as a LambdaLR multiplier: linear warmup, cosine decay to min_ratio, then flat."""

    def lr_lambda(it: int) -> float:
        if it < warmup_iters:
            return (it + 1) / (warmup_iters + 1)
        if it > lr_decay_iters:
            return min_ratio
        decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
        coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
        return min_ratio + coeff * (1.0 - min_ratio)

    return lr_lambda


# --------------------------------------------------------------------------------------------------------------
# makemore's RNN / GRU


class GRUCell(nn.Module):
    """makemore's GRU cell: the gates computed from [x, h] by three Linear layers."""

    def __init__(self, n_embd: int, n_embd2: int) -> None:
        super().__init__()
        self.xh_to_z = nn.Linear(n_embd + n_embd2, n_embd2)
        self.xh_to_r = nn.Linear(n_embd + n_embd2, n_embd2)
        self.xh_to_hbar = nn.Linear(n_embd + n_embd2, n_embd2)

    def forward(self, xt: torch.Tensor, hprev: torch.Tensor) -> torch.Tensor:
        xh = torch.cat([xt, hprev], dim=1)
        r = torch.sigmoid(self.xh_to_r(xh))
        hprev_reset = r * hprev
        xhr = torch.cat([xt, hprev_reset], dim=1)
        hbar = torch.tanh(self.xh_to_hbar(xhr))
        z = torch.sigmoid(self.xh_to_z(xh))
        return (1 - z) * hprev + z * hbar


class RNN(nn.Module):
    """makemore's RNN: a learned start hidden state, the cell unrolled over the positions, an lm_head."""

    def __init__(self, vocab_size: int, n_embd: int = 48, n_embd2: int = 64) -> None:
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, n_embd2))  # the starting hidden state
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.cell = GRUCell(n_embd, n_embd2)
        self.lm_head = nn.Linear(n_embd2, vocab_size)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, t = idx.size()
        emb = self.wte(idx)  # (b, t, n_embd)
        hprev = self.start.expand((b, -1))
        hiddens = []
        for i in range(t):
            hprev = self.cell(emb[:, i, :], hprev)
            hiddens.append(hprev)
        logits = self.lm_head(torch.stack(hiddens, 1))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


def flat_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Cross-entropy over every position: (B, T, V) logits against (B, T) ids."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=ignore_index)


# --------------------------------------------------------------------------------------------------------------
# word_language_model's RNNModel (batch-first here)


class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder; log-probabilities out.

    `batch_first=False` is the broken twin: the example's LSTM is time-major (its batches are (T, B)), and a
    port that feeds it (B, T) batches without setting batch_first recurs over the batch.
    """

    def __init__(self, rnn_type: str, ntoken: int, ninp: int, nhid: int, nlayers: int, dropout: float = 0.5,
                 tie_weights: bool = False, *, batch_first: bool = True) -> None:
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout, batch_first=batch_first)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("When using the tied flag, nhid must be equal to emsize")
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

    def init_weights(self) -> None:
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input: torch.Tensor, hidden: Any = None) -> torch.Tensor:
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        return F.log_softmax(decoded, dim=-1)  # (B, T, ntoken)


# --------------------------------------------------------------------------------------------------------------
# small pieces


def mlp(sizes: Sequence[int], act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def steps_per_epoch(ds: Any, batch_size: int) -> int:
    return math.ceil(len(ds) / batch_size)


# --------------------------------------------------------------------------------------------------------------
# a Hugging Face-style causal LM: config object, ModelOutput, labels padded with -100


@dataclass
class TinyLMConfig:
    vocab_size: int = 64
    n_positions: int = 64
    hidden_size: int = 48
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    intermediate_size: int = 96
    hidden_dropout_prob: float = 0.1
    pad_token_id: int = 0
    initializer_range: float = 0.02


@dataclass
class CausalLMOutput:
    """transformers.modeling_outputs.CausalLMOutput, reduced: `.logits`, and `.loss` when labels are given."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None


class TinyDecoderLayer(nn.Module):
    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.input_layernorm = nn.LayerNorm(config.hidden_size)
        self.self_attn = nn.MultiheadAttention(config.hidden_size, config.num_attention_heads,
                                               dropout=config.hidden_dropout_prob, batch_first=True)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size)
        self.mlp = nn.Sequential(nn.Linear(config.hidden_size, config.intermediate_size), nn.GELU(),
                                 nn.Linear(config.intermediate_size, config.hidden_size),
                                 nn.Dropout(config.hidden_dropout_prob))

    def forward(self, hidden_states: torch.Tensor, causal_mask: torch.Tensor) -> torch.Tensor:
        h = self.input_layernorm(hidden_states)
        attn, _ = self.self_attn(h, h, h, attn_mask=causal_mask, need_weights=False)
        hidden_states = hidden_states + attn
        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))


class TinyForCausalLM(nn.Module):
    """`model(input_ids, labels=None) -> CausalLMOutput`; the labels are already aligned with the logits here
    (the dataset shifts them), so the loss is a plain token-level cross-entropy skipping -100."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.embed_positions = nn.Embedding(config.n_positions, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layers = nn.ModuleList([TinyDecoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.norm = nn.LayerNorm(config.hidden_size)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def post_init(self) -> None:
        std = self.config.initializer_range
        for module in self.modules():
            if isinstance(module, nn.Linear):
                module.weight.data.normal_(mean=0.0, std=std)
                if module.bias is not None:
                    module.bias.data.zero_()
            elif isinstance(module, nn.Embedding):
                module.weight.data.normal_(mean=0.0, std=std)
                if module.padding_idx is not None:
                    module.weight.data[module.padding_idx].zero_()

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None) -> CausalLMOutput:
        seq_len = input_ids.shape[1]
        positions = torch.arange(seq_len, device=input_ids.device)
        hidden_states = self.dropout(self.embed_tokens(input_ids) + self.embed_positions(positions))
        causal_mask = torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool, device=input_ids.device), 1)
        for layer in self.layers:
            hidden_states = layer(hidden_states, causal_mask)
        logits = self.lm_head(self.norm(hidden_states))
        loss = flat_cross_entropy(logits, labels, ignore_index=-100) if labels is not None else None
        return CausalLMOutput(logits=logits, loss=loss)


class LineDataset(Dataset):
    """A tokenizer's padded batch, per line: input_ids = [bos] + chars, padded with pad_token_id; labels =
    the same ids with -100 at the padding (DataCollatorForLanguageModeling's `labels`). `shift_labels=True`
    returns (input_ids[:-1], labels[1:]), the pair a loss without its own shift needs; False returns
    (input_ids, labels) as a Hugging Face collator hands them to a model that shifts inside."""

    PAD, BOS = 0, 1

    def __init__(self, lines: list[str], chars: list[str], length: int, *, shift_labels: bool = True) -> None:
        self.stoi = {c: i + 2 for i, c in enumerate(chars)}
        self.lines, self.length, self.shift_labels = lines, length, shift_labels

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def vocab_size(self) -> int:
        return len(self.stoi) + 2

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = [self.BOS] + [self.stoi[c] for c in self.lines[i]]
        input_ids = torch.full((self.length + 1,), self.PAD, dtype=torch.long)
        input_ids[: len(ids)] = torch.tensor(ids)
        labels = input_ids.clone()
        labels[len(ids) :] = -100
        if self.shift_labels:
            return input_ids[:-1], labels[1:]
        return input_ids[:-1], labels[:-1]


def line_splits(length: int = 40, *, shift_labels: bool = True) -> tuple[LineDataset, LineDataset]:
    train, val, chars = text_lines(length)
    # room for <bos>, the longest line and one pad: a full line fits in input_ids[:-1]
    return (LineDataset(train, chars, length + 1, shift_labels=shift_labels),
            LineDataset(val, chars, length + 1, shift_labels=shift_labels))


# --------------------------------------------------------------------------------------------------------------
# pytorch/examples mnist's Net, for 8x8 digits


class MnistNet(nn.Module):
    """pytorch/examples mnist/main.py's Net on 8x8 inputs: two 3x3 convs, max-pool, dropout 0.25 and 0.5,
    two Linear layers, `log_softmax` out. `log_softmax=False` is the broken twin (raw scores into nll_loss)."""

    def __init__(self, *, log_softmax: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)  # 8 -> 6
        self.conv2 = nn.Conv2d(32, 64, 3, 1)  # 6 -> 4
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(256, 128)
        self.fc2 = nn.Linear(128, 10)
        self.log_softmax = log_softmax

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1) if self.log_softmax else x


# --------------------------------------------------------------------------------------------------------------
# an LSTM over the rows of an image (the "RNN on MNIST" tutorials)

SEQUENCE_LENGTH, INPUT_SIZE = 8, 8  # the rows of a digit are the time steps, each row's pixels the input


class RowLSTM(nn.Module):
    """Many-to-one LSTM: the 8 rows as 8 time steps, zero initial state, the last step's output classified.

    `time_major=True` is the broken twin: a time-major LSTM fed `x.view(SEQUENCE_LENGTH, -1, INPUT_SIZE)`
    where `x.permute(1, 0, 2)` was meant; the view re-cuts memory laid out (B, T, C), mixing samples."""

    def __init__(self, hidden_size: int = 64, num_layers: int = 2, num_classes: int = 10, *,
                 time_major: bool = False) -> None:
        super().__init__()
        self.hidden_size, self.num_layers, self.time_major = hidden_size, num_layers, time_major
        self.lstm = nn.LSTM(INPUT_SIZE, hidden_size, num_layers, batch_first=not time_major)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, SEQUENCE_LENGTH, INPUT_SIZE)  # (B, 1, 8, 8) -> (B, T, C)
        b = x.size(0)
        h0 = torch.zeros(self.num_layers, b, self.hidden_size, device=x.device)
        c0 = torch.zeros(self.num_layers, b, self.hidden_size, device=x.device)
        if self.time_major:
            out, _ = self.lstm(x.view(SEQUENCE_LENGTH, -1, INPUT_SIZE), (h0, c0))  # the bug: view, not permute
            return self.fc(out[-1, :, :])
        out, _ = self.lstm(x, (h0, c0))  # out: (B, T, hidden_size)
        return self.fc(out[:, -1, :])


# --------------------------------------------------------------------------------------------------------------
# pytorch/examples regression: fit a degree-4 polynomial

POLY_DEGREE = 4


def make_features(x: torch.Tensor) -> torch.Tensor:
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x**i for i in range(1, POLY_DEGREE + 1)], 1)


def polynomial(n_train: int = 512, n_val: int = 128, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """y = W_target . [x, x^2, x^3, x^4] + b_target (W, b ~ N(0, 5^2), as the example draws them), x ~ U(-1, 1)."""
    gen = torch.Generator().manual_seed(seed)
    w_target = torch.randn(POLY_DEGREE, 1, generator=gen) * 5
    b_target = torch.randn(1, generator=gen) * 5
    x = make_features(torch.rand(n_train + n_val, generator=gen) * 2 - 1)
    y = x.mm(w_target) + b_target.item()
    return TensorDataset(x[:n_train], y[:n_train]), TensorDataset(x[n_train:], y[n_train:])


# --------------------------------------------------------------------------------------------------------------
# binary classification: one logit


def breast_cancer(n_train: int = 450, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """load_breast_cancer's raw features (areas in the thousands, smoothness ~0.1) and 0/1 integer targets."""
    x, y = table("breast_cancer")
    return shuffled_split(x, y, n_train, seed)


class NormalizedClassifier(nn.Module):
    """Standardizes raw features inside the model, from statistics of the training rows held as buffers (so
    they move with `.to(device)` and are saved in the state_dict, like Keras' Normalization layer)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, hidden: int = 32, *, final_sigmoid: bool = False
                 ) -> None:
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())
        self.net = nn.Sequential(nn.Linear(mean.numel(), hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.final_sigmoid = final_sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit = self.net((x - self.mean) / self.std)  # (B, 1)
        return torch.sigmoid(logit) if self.final_sigmoid else logit  # broken twin: a probability out


# --------------------------------------------------------------------------------------------------------------
# a CIFAR-style ResNet (kuangliu/pytorch-cifar, torchvision's BasicBlock), for 8x8 digits


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, widths: Sequence[int] = (16, 32), num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, widths[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        blocks, in_planes = [], widths[0]
        for i, w in enumerate(widths):
            blocks.append(BasicBlock(in_planes, w, stride=1 if i == 0 else 2))
            in_planes = w
        self.layers = nn.Sequential(*blocks)
        self.linear = nn.Linear(in_planes, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


# --------------------------------------------------------------------------------------------------------------
# pytorch/examples time_sequence_prediction's Sequence


class SequenceModel(nn.Module):
    """The example's `Sequence`: two stacked LSTMCells stepped over the input one value at a time, a Linear
    read-out per step; the output is one prediction per input step, (B, L)."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input: torch.Tensor, future: int = 0) -> torch.Tensor:
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden, dtype=input.dtype, device=input.device)
        c_t = torch.zeros_like(h_t)
        h_t2 = torch.zeros_like(h_t)
        c_t2 = torch.zeros_like(h_t)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):  # if we should predict the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


# --------------------------------------------------------------------------------------------------------------
# a temporal convolutional network (locuslab/TCN: Conv1d padded by (k-1)*dilation, then Chomp1d)


class Chomp1d(nn.Module):
    """Cuts the padding off the end of the sequence, so output t depends on inputs <= t only.

    `left=True` is the broken twin: it cuts the start instead, so output t sees inputs up to t + padding."""

    def __init__(self, chomp_size: int, *, left: bool = False) -> None:
        super().__init__()
        self.chomp_size, self.left = chomp_size, left

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.left:
            return x[:, :, self.chomp_size :].contiguous()
        return x[:, :, : -self.chomp_size].contiguous()


class TemporalBlock(nn.Module):
    def __init__(self, n_inputs: int, n_outputs: int, kernel_size: int, dilation: int, dropout: float = 0.1,
                 *, chomp_left: bool = False) -> None:
        super().__init__()
        from torch.nn.utils.parametrizations import weight_norm

        padding = (kernel_size - 1) * dilation
        self.conv1 = weight_norm(nn.Conv1d(n_inputs, n_outputs, kernel_size, padding=padding, dilation=dilation))
        self.chomp1 = Chomp1d(padding, left=chomp_left)
        self.conv2 = weight_norm(nn.Conv1d(n_outputs, n_outputs, kernel_size, padding=padding, dilation=dilation))
        self.chomp2 = Chomp1d(padding, left=chomp_left)
        self.net = nn.Sequential(self.conv1, self.chomp1, nn.ReLU(), nn.Dropout(dropout),
                                 self.conv2, self.chomp2, nn.ReLU(), nn.Dropout(dropout))
        self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        res = x if self.downsample is None else self.downsample(x)
        return F.relu(out + res)


class TCNLanguageModel(nn.Module):
    """locuslab/TCN's char_cnn model: embedding, a stack of TemporalBlocks (dilations 1, 2, 4), a decoder."""

    def __init__(self, vocab_size: int, emb: int = 32, channels: Sequence[int] = (48, 48, 48), kernel_size: int = 3,
                 dropout: float = 0.1, *, chomp_left: bool = False) -> None:
        super().__init__()
        self.encoder = nn.Embedding(vocab_size, emb)
        blocks, c_in = [], emb
        for i, c in enumerate(channels):
            blocks.append(TemporalBlock(c_in, c, kernel_size, 2**i, dropout, chomp_left=chomp_left))
            c_in = c
        self.tcn = nn.Sequential(*blocks)
        self.decoder = nn.Linear(c_in, vocab_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        emb = self.encoder(x).transpose(1, 2)  # (B, C, T) for Conv1d
        y = self.tcn(emb).transpose(1, 2)  # back to (B, T, C)
        return self.decoder(y)
