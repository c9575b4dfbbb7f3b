"""Where audited samples come from: one streaming view over an Experiment's splits or a data path.

Every source yields `Chunk`s — a few thousand samples at a time, in index order — so the audit never holds a
whole dataset. A sample that cannot be read (a truncated JPEG, a text file that is not UTF-8) is recorded as a
`Failure` in its chunk and the stream goes on (`reader.read_samples`).

Kinds of data, which decide the properties and hashes the profile computes:
  image   (H, W) or (H, W, C) arrays, channels last; an image folder may mix sizes (chunk.x is then a list)
  signal  1-D float arrays where neighbouring values belong together (MNIST-1D, audio)
  vector  1-D float arrays of unrelated features (tables, embeddings)
  tokens  1-D integer arrays of token ids (sequence tasks); lengths may differ (chunk.x is then a list)

Targets may carry an ignore index (`AuditData.ignore_index`): the value the loss skips, such as -1 padding after
the end of a sequence in next-token targets. Every data check leaves those positions out.

One module per source: `experiment` (an Experiment's datasets), `arrays` (in-memory arrays), `npz`, `table`
(CSV and Parquet, read through `table_files`), `images` (an image folder), `text` (a folder of text files);
`paths` picks the source of a data path (`FILE_READERS`, by suffix). This module re-exports their public names.
"""

from nnrecipe.audit.sources.arrays import from_arrays, inferred_ignore_index
from nnrecipe.audit.sources.core import CHUNK, KINDS, AuditData, Chunk, Failure, Kind, Split
from nnrecipe.audit.sources.experiment import from_experiment
from nnrecipe.audit.sources.images import IMAGE_SUFFIXES, read_image
from nnrecipe.audit.sources.npz import NPZ_EXPECTED
from nnrecipe.audit.sources.paths import FILE_READERS, from_path, is_spec
from nnrecipe.audit.sources.table import MAX_CLASSES, MAX_INTEGER_CLASSES, SPLIT_NAMES, TABLE_SUFFIXES
from nnrecipe.audit.sources.text import TEXT_SUFFIXES

__all__ = [
    "CHUNK",
    "FILE_READERS",
    "IMAGE_SUFFIXES",
    "KINDS",
    "MAX_CLASSES",
    "MAX_INTEGER_CLASSES",
    "NPZ_EXPECTED",
    "SPLIT_NAMES",
    "TABLE_SUFFIXES",
    "TEXT_SUFFIXES",
    "AuditData",
    "Chunk",
    "Failure",
    "Kind",
    "Split",
    "from_arrays",
    "from_experiment",
    "from_path",
    "inferred_ignore_index",
    "is_spec",
    "read_image",
]
