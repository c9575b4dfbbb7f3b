"""What every figure function shares: the picture types, the house style, and drawing that never raises.

A figure function takes the thing it draws (a CheckResult, a StepResult, or one run artifact) and returns a
matplotlib `Figure`, a `Table` (for data better read as rows: a table batch, decoded text), or None when
there is nothing to draw. `draw` turns that into a `Picture` for the page; a function that fails becomes a
note on the page, never an exception. matplotlib is imported only when something is drawn, and without
pyplot: a bare `Figure` saves to PNG through Agg whatever backend the user's session has, so nothing opens
a window and a Jupyter session's backend and figures are left as they were.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the PNG resolution: a 9-inch-wide figure is ~1000 px, sharp on a laptop screen and small on disk
DPI = 110
WIDTH = 9.0

STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "figure.facecolor": "white",
}

STATUS_COLORS = {"pass": "#1a7f37", "warn": "#b58100", "fail": "#cf222e", "skip": "#6e7781", "error": "#8250df"}


@dataclass(frozen=True)
class Table:
    """Rows to show as an HTML table instead of a picture."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""


@dataclass(frozen=True)
class Picture:
    """One drawn item on the page: a PNG data URI, or a table, or a note saying why there is no picture."""

    title: str
    png: str | None = None
    table: Table | None = None
    note: str | None = None


def new_figure(*, height: float, width: float = WIDTH, grid: bool = False) -> Figure:
    """A pyplot-free figure with constrained layout (labels never overlap); `grid=True` for grids of
    thumbnails, laid out by fixed margins instead: constrained layout costs ~30 ms an axis."""
    from matplotlib.figure import Figure

    if grid:
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.9, wspace=0.15, hspace=0.45)
        return fig
    return Figure(figsize=(width, height), layout="constrained")


def draw(title: str, fn: Callable[..., Any], *args: Any) -> Picture | None:
    """Run a figure function and encode its figure; an error becomes a note (the page must always render)."""
    try:
        import matplotlib

        with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
            drawn = fn(*args)
            if drawn is None:
                return None
            if isinstance(drawn, Table):
                return Picture(title, table=drawn)
            return Picture(title, png=png_data_uri(drawn))
    except Exception as exc:  # a broken picture is a note, never a broken report
        return Picture(title, note=f"this picture could not be drawn ({type(exc).__name__}: {exc})")


def png_data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def label_names(class_names: Sequence[str] | None, n: int) -> list[str]:
    """Names for class ids 0..n-1: the experiment's class names when they fit, else the ids."""
    if class_names is not None and len(class_names) >= n:
        return [str(c) for c in class_names[:n]]
    return [str(i) for i in range(n)]


def smooth(values: Sequence[float], window: int) -> list[float]:
    """A trailing moving average, ignoring non-finite values (a diverged run still draws)."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    out = []
    for i in range(len(v)):
        chunk = v[max(0, i - window + 1): i + 1]
        chunk = chunk[np.isfinite(chunk)]
        out.append(float(chunk.mean()) if len(chunk) else float("nan"))
    return out


def log_scale_if_positive(ax: Any, values: Sequence[float]) -> None:
    """Losses spanning orders of magnitude read best on a log axis, when they are all positive."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) and v.min() > 0 and v.max() / v.min() > 20:
        ax.set_yscale("log")
