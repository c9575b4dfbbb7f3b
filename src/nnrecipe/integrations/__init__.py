"""nnrecipe inside the trainers people already use: `nnrecipe.integrations.lightning` (PyTorch Lightning) and
`nnrecipe.integrations.hf` (Hugging Face Transformers). Each is imported only when asked for, and needs its
extra: `pip install "nnrecipe[lightning]"` or `pip install "nnrecipe[hf]"`."""

from __future__ import annotations


def missing_extra(package: str, extra: str) -> ImportError:
    """The error for an integration whose library is not installed: it names the extra that installs it."""
    return ImportError(f'nnrecipe.integrations.{extra} needs {package}: pip install "nnrecipe[{extra}]"')
