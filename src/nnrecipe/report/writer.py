"""Writing a command's outputs: the JSON result document (and the run folder's copy), atomically."""

from __future__ import annotations

from pathlib import Path

from nnrecipe.engine.checkpoint import atomic_write_json
from nnrecipe.errors import UsageError
from nnrecipe.results import RunResult


def write_outputs(result: RunResult, *, json_path: str | None, out_dir: str | None) -> str | None:
    """Write the JSON document where asked and into the run folder; return the report's path, if any."""
    document = result.to_dict()
    if json_path:
        _writable(Path(json_path))
        atomic_write_json(json_path, document)
    if out_dir:
        folder = Path(out_dir)
        _writable(folder / "result.json")
        atomic_write_json(folder / "result.json", document)
    return None


def _writable(path: Path) -> None:
    if path.exists() and path.is_dir():
        raise UsageError(f"cannot write {str(path)!r}: expected a file path, but it is a folder")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"cannot write {str(path)!r}: {str(parent)!r} is a file, not a folder")
