"""Reading CSV and Parquet files: their columns, lazy batches of rows, one DataError for a file that cannot be parsed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnrecipe.errors import DataError, NnrecipeError


def table_expected(path: Path) -> str:
    """What a table of this suffix must be, for error messages."""
    if path.suffix.lower() == ".csv":
        return "a CSV file with a header row and at least one data row"
    return "a Parquet file (as pandas.DataFrame.to_parquet writes) with at least one row"


@contextlib.contextmanager
def _reading_table(path: Path) -> Iterator[None]:
    """Every read of a table goes through here: a file pandas or pyarrow cannot parse becomes one DataError that
    names it and says what was expected, wherever the read happens (the first look or a check's stream)."""
    try:
        yield
    except NnrecipeError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"audit: {str(path)!r} cannot be read as a CSV file: it is not UTF-8 text (it holds "
                        f"the byte 0x{exc.object[exc.start]:02x}), so it is a binary file "
                        f"or text in another encoding; expected {table_expected(path)}, saved as UTF-8") from None
    except Exception as exc:  # pandas' ParserError and EmptyDataError, pyarrow's ArrowInvalid, OSError
        kind = "a CSV file" if path.suffix.lower() == ".csv" else "a Parquet file"
        hint = "" if path.suffix.lower() == ".csv" else ": a truncated copy, or another format saved as .parquet?"
        raise DataError(f"audit: {str(path)!r} cannot be read as {kind} ({type(exc).__name__}: "
                        f"{' '.join(str(exc).split())}); expected {table_expected(path)}{hint}") from None


def table_columns(path: Path) -> list[str]:
    """The table's column names, read from the CSV header or the Parquet schema."""
    with _reading_table(path):
        if path.suffix.lower() == ".csv":
            import pandas as pd

            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)


def table_batches(path: Path, size: int, columns: list[str] | None = None) -> Iterator[Any]:
    """DataFrames of `size` rows, read lazily (pandas' chunked CSV reader; pyarrow's row-group batches)."""
    with _reading_table(path):
        if path.suffix.lower() == ".csv":
            import pandas as pd

            yield from pd.read_csv(path, chunksize=size, usecols=columns)
            return
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=size, columns=columns):
            yield batch.to_pandas()
