"""The panels' ipympl canvas: the kernel sizes every figure, whatever a client asks.

ipympl hands each message from the page's canvas to matplotlib's webagg core, which obeys it:
``{"type": "resize", "width": 20000, "height": 20000}`` makes ``handle_resize`` enlarge the figure
to 20000 × 20000 pixels and render it (16.7 s and 5.6 GB in one kernel), whatever
``canvas.resizable`` says (that trait only hides the page's resize handle). A device pixel ratio
multiplies the figure's dpi the same way. Here the figures are sized by the kernel
(``figures.make_figure``, ``figures.fit_figures``): a resize request is answered with the
figure's own size, and the pixel ratio is clamped to what real screens report.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ipympl.backend_nbagg import Canvas

__all__ = ["MAX_PIXEL_RATIO", "MIN_PIXEL_RATIO", "FixedCanvas"]

log = logging.getLogger(__name__)

# devicePixelRatio of real screens: 1 to 3, and 4 for a 2x screen zoomed to 200 %. Beyond 4 a
# figure is drawn at 4x (a little soft) rather than at a cost that grows with the square.
MIN_PIXEL_RATIO, MAX_PIXEL_RATIO = 0.5, 4.0


class FixedCanvas(Canvas):  # ipympl is untyped (Any to mypy)
    """An ipympl canvas whose size only the kernel changes (see the module docstring)."""

    def _handle_message(self, widget: Any, content: Any, buffers: Any) -> None:
        """Every message from the page's canvas: one that is not an event is dropped here,
        before ipympl indexes it."""
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            log.warning("ignored a canvas message that is no event: %.80r", content)
            return
        super()._handle_message(widget, content, buffers)

    def handle_resize(self, event: Any) -> None:
        """A resize request from the page, answered with the figure's own size: the size is
        clamped to exactly the size the kernel gave the figure (the page, which waits for an
        answer, then redraws at that size). The page sends none while ``resizable`` is False."""
        log.info("a canvas resize to %.80r was answered with the figure's own size", event)
        self._png_is_old = True
        self.manager.resize(*self.figure.bbox.size, forward=False)

    def _handle_set_device_pixel_ratio(self, device_pixel_ratio: Any) -> None:
        """The screen's pixel ratio from the page, clamped to MIN_PIXEL_RATIO..MAX_PIXEL_RATIO
        (a non-number is ignored)."""
        ratio = pixel_ratio(device_pixel_ratio)
        if ratio is None:
            log.warning("ignored a device pixel ratio of %.40r", device_pixel_ratio)
            return
        super()._handle_set_device_pixel_ratio(ratio)


def pixel_ratio(reported: object) -> float | None:
    """``reported`` as a device pixel ratio the kernel draws at: clamped to
    MIN_PIXEL_RATIO..MAX_PIXEL_RATIO; None for a non-number, a boolean or NaN."""
    if isinstance(reported, bool) or not isinstance(reported, int | float):
        return None
    if math.isnan(reported):
        return None
    return min(max(float(reported), MIN_PIXEL_RATIO), MAX_PIXEL_RATIO)
