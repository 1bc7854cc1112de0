"""Export: each figure as PNG (twice its size on screen) and SVG, the data behind it as CSV, and
"Copy as code", a Python snippet of ``explorer.core`` calls giving the numbers shown.

The bar under a panel's figures is an anywidget (``export.js``). A click sends the kernel a
message; the kernel makes the file only then (nothing is made while the page loads) and sends it
back as a binary buffer, which the page saves under a name such as ``deep-network.png``. The
figure is saved on a canvas of its own, so the live canvas in the page (its pixels, its cached
background for blitting, its size and dpi) is left as it was.

A message is checked before anything is made: an unknown kind or figure is refused with a note
in the panel's status line, never an exception.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets as widgets
import matplotlib as mpl
import traitlets
from matplotlib.figure import Figure

from explorer.plots.table import columns_csv, figure_columns

if TYPE_CHECKING:
    from explorer.panels.base import Panel

__all__ = ["KINDS", "ExportBar", "export_bar", "figure_csv", "figure_png", "figure_svg"]

log = logging.getLogger(__name__)

_HERE = Path(__file__).parent
PNG_ZOOM = 2.0  # a PNG has twice the pixels the figure has on screen (CSS pixels)
KINDS = ("png", "svg", "csv", "code")
_MIME = {"png": "image/png", "svg": "image/svg+xml", "csv": "text/csv"}


def figure_png(figure: Figure, zoom: float = PNG_ZOOM) -> bytes:
    """``figure`` as PNG bytes at ``zoom`` times its size on screen: its dpi there is
    ``figure.dpi`` over the screen's device pixel ratio (``figures.fit_figures`` zooms it)."""
    return _saved(figure, "png", zoom * _screen_dpi(figure))


def figure_svg(figure: Figure) -> bytes:
    """``figure`` as SVG, its text kept as text (editable, searchable) rather than outlines;
    an image inside it at ``PNG_ZOOM`` times the screen's resolution."""
    with mpl.rc_context({"svg.fonttype": "none"}):
        return _saved(figure, "svg", PNG_ZOOM * _screen_dpi(figure))


def figure_csv(figure: Figure) -> bytes:
    """The data ``figure`` draws, as UTF-8 CSV (``explorer.plots.table``)."""
    return columns_csv(figure_columns(figure)).encode("utf-8")


def _screen_dpi(figure: Figure) -> float:
    """Dots per inch of ``figure`` in CSS pixels, as the page shows it."""
    return float(figure.dpi) / float(figure.canvas.device_pixel_ratio)


def _saved(figure: Figure, kind: str, dpi: float) -> bytes:
    """``figure`` saved as ``kind`` on a temporary canvas of that format. While it draws, the
    live canvas hears nothing (its draw_event would re-cache the blitting background at the
    export's size), and afterwards its dpi and staleness are as they were."""
    live = figure.canvas
    zoom_dpi = getattr(figure, "_original_dpi", None)  # a new canvas resets it
    stale = figure.stale
    buffer = io.BytesIO()
    try:
        with live.callbacks.blocked():
            figure.savefig(buffer, format=kind, dpi=dpi, backend=kind if kind == "svg" else "agg")
    finally:
        figure.canvas = live  # savefig puts it back; so does this, whatever happened
        if zoom_dpi is not None:
            figure._original_dpi = zoom_dpi  # type: ignore[attr-defined]
        figure.stale = stale
    return buffer.getvalue()


def slug(text: str) -> str:
    """A file name from ``text``: 'Deep network' -> 'deep-network'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "figure"


def figure_names(panel: Panel[Any]) -> list[str]:
    """What the export calls each of ``panel``'s figures: its ``figure_names`` if it has more
    than one figure (else "figure 1", "figure 2", ...); one figure needs no name."""
    count = len(panel.figures())
    if count == 1:
        return [""]
    names = [str(name) for name in getattr(panel, "figure_names", ())]
    return names if len(names) == count else [f"figure {i + 1}" for i in range(count)]


class ExportBar(anywidget.AnyWidget):
    """The export buttons of one panel (see the module docstring); ``figures`` names each
    figure (one unnamed figure: one row of buttons)."""

    _esm = _HERE / "export.js"
    _css = _HERE / "export.css"

    figures = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def __init__(self, panel: Panel[Any], **kwargs: Any) -> None:
        super().__init__(figures=figure_names(panel), **kwargs)
        self.panel = panel
        self.on_msg(self._on_message)

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        del widget, buffers
        request = checked_request(content, len(self.figures))
        if isinstance(request, str):
            self.panel.warn(f"Export refused: {request}.")
            return
        kind, index = request
        try:
            self._answer(kind, index)
        except ValueError as error:  # nothing shown yet, say
            self.panel.warn(f"Export: {error}")
        except Exception as error:  # keep the panel usable whatever happened
            log.exception("export failed")
            self.panel.set_status(f"Export failed: {type(error).__name__}: {error}", "error")

    def _answer(self, kind: str, index: int) -> None:
        """Make the ``kind`` of figure ``index`` and send it to the page."""
        if kind == "code":
            self.send({"event": "code", "text": self.panel.snippet()})
            return
        makers: dict[str, Callable[[Figure], bytes]] = {
            "png": figure_png,
            "svg": figure_svg,
            "csv": figure_csv,
        }
        data = makers[kind](self.panel.figures()[index])
        name = slug(self.panel.title)
        if self.figures[index]:
            name += "-" + slug(self.figures[index])
        self.send(
            {"event": "file", "name": f"{name}.{kind}", "mime": _MIME[kind], "size": len(data)},
            buffers=[data],
        )


def checked_request(content: object, figures: int) -> tuple[str, int] | str:
    """(kind, figure index) from a message of the page, or why it is refused. The page sends
    ``{"event": "export", "kind": "png", "figure": 0}``; anything else may be forged."""
    if not isinstance(content, dict) or content.get("event") != "export":
        return "not an export request"
    kind, index = content.get("kind"), content.get("figure", 0)
    if not isinstance(kind, str) or kind not in KINDS:
        return f"{str(kind)[:20]!r} is not one of {', '.join(KINDS)}"
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < figures:
        return f"figure {str(index)[:20]!r} is not one of 0..{figures - 1}"
    return kind, index


def export_bar(panel: Panel[Any]) -> list[widgets.Widget]:
    """The export buttons shown under ``panel``'s figures (none for a panel without figures)."""
    if not panel.figures():
        return []
    return [ExportBar(panel)]
