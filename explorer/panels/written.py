"""Per-layer (per-step) values written out, so a student can check them against a hand calculation.

The log plots show the trend; the numbers a student checks (16, 8, 4, 2, 1 for w = 2 over five
layers; 524,288 at layer 1 of twenty) are written out here: the first and the last ``EDGE``
indices, and the one the user points at.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backend_bases import MouseEvent

from explorer.panels.bounds import Bounds
from explorer.panels.controls import int_slider
from explorer.panels.number import IntNumberSlider

EDGE = 5  # indices written out at each end
_CELL = "padding:0 8px;text-align:right;"


def four_digits(value: float) -> str:
    """4 significant digits; whole numbers below 10^9 in full (524,288); inf and nan kept."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e9:
        return f"{int(value):,}"
    return f"{value:.4g}"


def shown_indices(first: int, last: int, pointed: int | None) -> list[int | None]:
    """The indices written out, in order: ``EDGE`` at each end and ``pointed``; None marks a gap."""
    chosen = set(range(first, min(first + EDGE, last + 1)))
    chosen |= set(range(max(last - EDGE + 1, first), last + 1))
    if pointed is not None and first <= pointed <= last:
        chosen.add(pointed)
    shown: list[int | None] = []
    for index in sorted(chosen):
        if shown and shown[-1] is not None and index > shown[-1] + 1:
            shown.append(None)
        shown.append(index)
    return shown


def written_out_html(
    name: str,
    index_label: str,
    values: Sequence[float] | npt.NDArray[np.floating[Any]],
    first: int,
    pointed: int | None,
) -> str:
    """An HTML table: a row of indices ``first``.. and a row of ``values`` at them."""
    last = first + len(values) - 1
    heads, cells = [], []
    for index in shown_indices(first, last, pointed):
        if index is None:
            heads.append(f"<td style='{_CELL}'>…</td>")
            cells.append(f"<td style='{_CELL}'>…</td>")
            continue
        style = _CELL + ("background:#fff2cc;" if index == pointed else "")
        heads.append(f"<td style='{style}'>{index}</td>")
        cells.append(f"<td style='{style}'><b>{four_digits(float(values[index - first]))}</b></td>")
    return (
        "<table class='ge-written' style='font-size:14px'>"
        f"<tr><td style='text-align:left'>{index_label}</td>{''.join(heads)}</tr>"
        f"<tr><td style='text-align:left'>{name}</td>{''.join(cells)}</tr></table>"
    )


class PointedIndex:
    """The index written out beside the ends: typed in ``box`` or clicked on ``ax``'s x axis.

    ``box`` is a panel selector: the panel keeps it within ``first``..the result's last index
    (``Panel.selector_bounds``) and shows the result again when it changes, without recomputing.
    """

    def __init__(self, label: str, first: int, ax: Axes) -> None:
        self.first = first
        self.ax = ax
        self.box: IntNumberSlider = int_slider(label, first, Bounds(first, first, integer=True))
        self.box.slider = False
        canvas: Any = ax.figure.canvas
        canvas.mpl_connect("button_press_event", self._on_click)

    @property
    def index(self) -> int:
        return int(self.box.value)

    def bounds(self, last: int) -> Bounds:
        """The box's bounds for a result whose last index is ``last``."""
        return Bounds(self.first, last, integer=True)

    def _on_click(self, event: MouseEvent) -> None:
        if event.inaxes is not self.ax or event.xdata is None:
            return
        self.box.value = int(min(max(round(float(event.xdata)), self.box.min), self.box.max))


def readout_table(rows: Sequence[Sequence[str]], *, cell_style: str = "") -> str:
    """The one readout table: ``rows`` of HTML cells (their text already escaped), each cell
    styled with ``cell_style``."""
    td = f"<td style='{cell_style}'>" if cell_style else "<td>"
    body = "".join("<tr>" + "".join(f"{td}{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table style='font-size:14px'>{body}</table>"
