"""Panel figures: built once with an ipympl canvas, fitted to the width the page gives them.

A figure keeps its margins in inches (``FigureFrame``) so that it can be widened or zoomed to the
page without a layout engine (see ``make_figure``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from ipympl.backend_nbagg import Canvas, FigureManager
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "FIT_SCALES",
    "FigureFrame",
    "canvas_of",
    "fit_figures",
    "fitted",
    "make_figure",
]

DPI = 100
FIT_SCALES = (0.6, 1.6)  # a figure fits the page between 60 % and 160 % of its natural width
FIT_PADDING = 16  # CSS pixels kept free beside each figure (borders, scroll bars)


@dataclass(frozen=True)
class FigureFrame:
    """A figure's natural size and margins, in inches: the margins stay when the width changes."""

    natural_width: float
    height: float
    left: float
    right: float
    bottom: float
    top: float
    gap: float
    columns: int

    def adjust(self, figure: Figure, width: float) -> None:
        """Place ``figure``'s subplots for a width of ``width`` inches."""
        figure.subplots_adjust(
            left=self.left / width,
            right=1 - self.right / width,
            bottom=self.bottom / self.height,
            top=1 - self.top / self.height,
            wspace=self.gap
            / ((width - self.left - self.right - (self.columns - 1) * self.gap) / self.columns),
        )


_FRAMES: WeakKeyDictionary[Figure, FigureFrame] = WeakKeyDictionary()


def fit_figures(figures: Sequence[Figure], width_px: float) -> bool:
    """Fit ``figures`` (side by side) to ``width_px`` CSS pixels, each keeping its share of their
    natural widths, within ``FIT_SCALES``; return whether any figure changed.

    Wider than natural, a figure gains width in inches: more room for the data, text as it was.
    Narrower, it keeps its inches and is drawn at a lower resolution, a uniform zoom: every
    label, legend and margin shrinks with it, so nothing that fits at the natural size collides.
    """
    frames = [_FRAMES[figure] for figure in figures]
    natural = sum(frame.natural_width for frame in frames) * DPI
    low, high = FIT_SCALES
    scale = round(min(max((width_px - FIT_PADDING * len(figures)) / natural, low), high), 3)
    changed = False
    for figure, frame in zip(figures, frames, strict=True):
        width = round(frame.natural_width * max(scale, 1.0), 2)
        dpi = DPI * min(scale, 1.0)
        if abs(width - figure.get_figwidth()) < 0.05 and abs(dpi - _zoom_dpi(figure)) < 1:
            continue
        frame.adjust(figure, width)
        _set_zoom_dpi(figure, dpi)
        figure.set_size_inches(width, frame.height, forward=True)
        figure.canvas.draw_idle()
        changed = True
    return changed


def _zoom_dpi(figure: Figure) -> float:
    return float(figure._original_dpi)  # type: ignore[attr-defined]


def _set_zoom_dpi(figure: Figure, dpi: float) -> None:
    """Draw ``figure`` at ``dpi`` per CSS inch. matplotlib multiplies the figure's original dpi by
    the screen's device pixel ratio (ipympl reports it), so both are set."""
    figure._original_dpi = dpi  # type: ignore[attr-defined]
    figure.set_dpi(dpi * figure.canvas.device_pixel_ratio)


def make_figure(
    width: float,
    height: float,
    *,
    left: float = 0.8,
    right: float = 0.15,
    bottom: float = 0.55,
    top: float = 0.35,
    gap: float = 0.85,
    columns: int = 2,
) -> Figure:
    """A figure drawn by an ipympl canvas, built once; not registered with pyplot.

    ``gap`` is the space between ``columns`` side-by-side axes. Bypassing pyplot keeps no global
    figure registry (nothing to leak as panels come and go) and
    works whatever matplotlib backend the notebook selected. Margins are fixed, in inches, wide
    enough for tick labels such as 10⁻³⁰⁰: a layout engine would cost 60-80 ms on each full draw
    here (constrained layout measured 211 ms per draw against 128 ms fixed).
    """
    figure = Figure(figsize=(width, height), dpi=DPI)
    frame = FigureFrame(width, height, left, right, bottom, top, gap, columns)
    frame.adjust(figure, width)
    _FRAMES[figure] = frame
    figure.set_facecolor("white")
    canvas = Canvas(figure)
    FigureManager(canvas, num=id(figure))
    canvas.header_visible = False
    canvas.footer_visible = False
    canvas.resizable = False
    canvas.toolbar_visible = False
    canvas.layout.width = "100%"
    return figure


def canvas_of(figure: Figure) -> Canvas:
    """``figure``'s ipympl canvas (a widget, with a ``layout``)."""
    return figure.canvas


def fitted(figures: Sequence[Figure]) -> list[Figure]:
    """Those of ``figures`` built by ``make_figure`` (the ones ``fit_figures`` can fit)."""
    return [figure for figure in figures if figure in _FRAMES]
