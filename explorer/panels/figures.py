"""Panel figures: built once with an ipympl canvas, fitted to the width the page gives them.

A figure keeps its margins in inches (``FigureFrame``) so that it can be widened or zoomed to the
page without a layout engine (see ``make_figure``).
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import numpy as np
from ipympl.backend_nbagg import Canvas, FigureManager
from matplotlib.figure import Figure

from explorer.panels.canvas import FixedCanvas
from explorer.panels.png import encode_rgba

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
PROJECTOR_ZOOM = 2.5  # the largest zoom of projector mode (a 1100 px figure on a 2750 px screen)


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


def fit_figures(figures: Sequence[Figure], width_px: float, *, projector: bool = False) -> bool:
    """Fit ``figures`` (side by side) to ``width_px`` CSS pixels, each keeping its share of their
    natural widths, within ``FIT_SCALES``; return whether any figure changed.

    Wider than natural, a figure gains width in inches: more room for the data, text as it was.
    Narrower, it keeps its inches and is drawn at a lower resolution, a uniform zoom: every
    label, legend and margin shrinks with it, so nothing that fits at the natural size collides.

    In ``projector`` mode the figures are stacked and each fills ``width_px`` by that zoom, up to
    ``PROJECTOR_ZOOM``: text and lines grow with the figure, legible from the back of a room.
    """
    frames = [_FRAMES[figure] for figure in figures]
    low, high = FIT_SCALES
    if projector:
        sizes = [
            (frame.natural_width, DPI * round(_projector_zoom(frame, width_px), 3))
            for frame in frames
        ]
    else:
        natural = sum(frame.natural_width for frame in frames) * DPI
        free = width_px - FIT_PADDING * len(figures)
        scale = round(min(max(free / natural, low), high), 3)
        sizes = [
            (round(frame.natural_width * max(scale, 1.0), 2), DPI * min(scale, 1.0))
            for frame in frames
        ]
    changed = False
    for figure, frame, (width, dpi) in zip(figures, frames, sizes, strict=True):
        if abs(width - figure.get_figwidth()) < 0.05 and abs(dpi - _zoom_dpi(figure)) < 1:
            continue
        frame.adjust(figure, width)
        _set_zoom_dpi(figure, dpi)
        figure.set_size_inches(width, frame.height, forward=True)
        figure.canvas.draw_idle()
        changed = True
    return changed


def _projector_zoom(frame: FigureFrame, width_px: float) -> float:
    """The zoom at which ``frame``'s figure fills ``width_px`` alone, within FIT_SCALES' low end
    and PROJECTOR_ZOOM."""
    fill = (width_px - FIT_PADDING) / (frame.natural_width * DPI)
    return min(max(fill, FIT_SCALES[0]), PROJECTOR_ZOOM)


def _zoom_dpi(figure: Figure) -> float:
    return float(figure._original_dpi)  # type: ignore[attr-defined]


def _set_zoom_dpi(figure: Figure, dpi: float) -> None:
    """Draw ``figure`` at ``dpi`` per CSS inch. matplotlib multiplies the figure's original dpi by
    the screen's device pixel ratio (ipympl reports it), so both are set."""
    figure._original_dpi = dpi  # type: ignore[attr-defined]
    figure.set_dpi(dpi * figure.canvas.device_pixel_ratio)


class PanelCanvas(FixedCanvas):
    """The panels' canvas: sized by the kernel only (``FixedCanvas``), its frames encoded by
    ``png.encode_rgba`` (a third of the time Pillow's defaults take)."""

    # matplotlib's webagg core state, as get_diff_image uses it (ipympl makes two of them traits)
    _last_buff: np.ndarray
    _force_full: bool
    _png_is_old: bool
    _lastKey: tuple[int, int, float] | None
    _current_image_mode: str
    syncing_data_url: bool

    def handle_draw(self, event: object) -> None:
        """The page asks for a draw (its first view, a refresh, or after ``draw_idle``). When the
        figure is unchanged since its last full draw and the pixels are still the figure's size,
        those pixels are sent again instead of drawing them anew (a full Agg draw is 80-120 ms):
        a page opened on a kernel whose App already drew its first figure (a preheated one)
        shows it that much sooner."""
        width, height = self.get_width_height(physical=True)
        if self.figure.stale or self._lastKey != (width, height, self.figure.dpi):
            super().handle_draw(event)
            return
        self._png_is_old = True
        self.manager.refresh_all()

    def send_binary(self, data: bytes) -> None:
        """Send a frame to the page. Until a page has shown this canvas (ipympl's
        ``syncing_data_url``), a full frame also becomes the canvas's ``_data_url``, which the
        page paints as soon as it creates the canvas, before it asks the kernel for a draw.

        ipympl's own ``send_binary`` meant to do this but, in that state, sends the raw RGBA
        buffer in place of the PNG and stores the PNG's base64 without its ``data:`` prefix,
        which the page cannot load (ipympl 0.10)."""
        if self.syncing_data_url and self._current_image_mode == "full":
            self._data_url = "data:image/png;base64," + b64encode(data).decode("ascii")
        self.send({"data": '{"type": "binary"}'}, buffers=[data])

    def get_diff_image(self) -> bytes | None:
        """The next frame for the page, as matplotlib's webagg core makes it (a full frame after
        a size change, a forced full frame or any transparency; else the changed pixels on
        transparent black), or None when nothing was drawn since the last one."""
        if not self._png_is_old:
            return None
        pixels = np.asarray(self.get_renderer().buffer_rgba())
        buffer = pixels.view(np.uint32).squeeze(2)
        last = self._last_buff
        if self._force_full or buffer.shape != last.shape or (pixels[:, :, 3] != 255).any():
            self.set_image_mode("full")
            frame = buffer
        else:
            self.set_image_mode("diff")
            frame = np.where(buffer != last, buffer, 0)
        self._last_buff = buffer.copy()
        self._force_full = False
        self._png_is_old = False
        return encode_rgba(frame.view(np.uint8).reshape((*frame.shape, 4)))


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
    canvas = PanelCanvas(figure)  # sized by the kernel only, whatever the page asks
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
