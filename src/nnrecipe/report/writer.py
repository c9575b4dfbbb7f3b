"""Writing a command's outputs: the JSON result document, and in the run folder its copy, the HTML report
and (when asked) TensorBoard event files. Each file is written atomically."""

from __future__ import annotations

from pathlib import Path

from nnrecipe.engine.checkpoint import atomic_write_json, atomic_write_text
from nnrecipe.engine.run_folder import check_destinations, mark
from nnrecipe.errors import UsageError
from nnrecipe.results import Pictures, RunResult

REPORT_NAME = "report.html"
TENSORBOARD_DIR = "tensorboard"


def write_outputs(result: RunResult, pictures: Pictures, *, json_path: str | None, out_dir: str | None,
                  tensorboard: bool = False) -> str | None:
    """Write the JSON document where asked and the run folder's files (the report and event files drawn with the
    pictures); return the report's path, if any."""
    if tensorboard and not out_dir:
        raise UsageError("--tensorboard writes event files into the run folder: give --out DIR as well")
    document = result.to_dict()
    if json_path:
        _writable(Path(json_path))
        atomic_write_json(json_path, document)
    if not out_dir:
        return None
    folder = Path(out_dir)
    _writable(folder / "result.json")
    check_destinations(out_dir=folder, json_path=None)
    mark(folder)
    atomic_write_json(folder / "result.json", document)
    from nnrecipe.report.html import render_html

    report = folder / REPORT_NAME
    _writable(report)
    atomic_write_text(report, render_html(result, pictures))
    if tensorboard:
        from nnrecipe.report.tensorboard import write_tensorboard

        write_tensorboard(result, pictures, folder / TENSORBOARD_DIR)
    return str(report)


def _writable(path: Path) -> None:
    if path.exists() and path.is_dir():
        raise UsageError(f"cannot write {str(path)!r}: expected a file path, but it is a folder")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"cannot write {str(path)!r}: {str(parent)!r} is a file, not a folder")
