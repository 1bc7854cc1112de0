"""Fast redraws: repaint only the views' data while no axis limits changed (matplotlib blitting).

A full Agg draw of a two-axes panel costs 130-200 ms on this machine, most of it laying out and
rasterising tick labels, titles and legends that a slider move rarely changes. The views keep
their limits sticky, so most updates can restore the cached background and draw just the data
artists; ``canvas.blit`` then sends the changed pixels (ipympl's diff image) without waiting
for the browser to ask for a draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import DrawEvent
from matplotlib.figure import Figure


class Redrawer:
    """Redraws ``artists`` of ``figure`` by blitting when limits allow, else by a full draw."""

    def __init__(self, figure: Figure, artists: Sequence[Artist]) -> None:
        self.figure = figure
        self.canvas: Any = figure.canvas  # ipympl's (untyped) canvas: Agg, with blitting
        self.artists: list[Artist] = []
        self.set_artists(artists)
        self._background: object | None = None
        self._drawn_limits: list[tuple[object, ...]] | None = None
        self.full_draws = 0  # counters for tests and benchmarks
        self.blits = 0
        self.canvas.mpl_connect("draw_event", self._on_draw)

    def set_artists(self, artists: Sequence[Artist]) -> None:
        """The artists repainted on each redraw (the rest is the cached background)."""
        self.artists = list(artists)
        for artist in self.artists:
            artist.set_animated(True)  # left out of full draws; drawn by _on_draw instead

    def redraw(self, *, full: bool = False) -> str:
        """Show the artists' current data; return "blit" or "full". ``full`` asks for a full
        draw whatever the limits (a change to what is not among the artists, e.g. an image)."""
        if full or self._background is None or self._limits() != self._drawn_limits:
            # animated artists do not make the figure stale; the draw the page then asks for
            # must not be answered with the old pixels (PanelCanvas.handle_draw)
            self.figure.stale = True
            self.canvas.draw_idle()
            self.full_draws += 1
            return "full"
        self.canvas.restore_region(self._background)
        self._draw_artists()
        self.canvas.blit(self.figure.bbox)
        self.blits += 1
        return "blit"

    def _on_draw(self, event: DrawEvent | None) -> None:
        del event
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self._drawn_limits = self._limits()
        self._draw_artists()

    def _draw_artists(self) -> None:
        for artist in self.artists:
            self.figure.draw_artist(artist)

    def _limits(self) -> list[tuple[object, ...]]:
        """What the cached background depends on: the figure's size in pixels (it changes when
        the figure is fitted to the page), each axes' limits and legend entries."""
        size: tuple[object, ...] = tuple(self.figure.bbox.bounds)
        return [size] + [
            (*ax.get_xlim(), *ax.get_ylim(), *_legend_labels(ax)) for ax in self.figure.axes
        ]


def _legend_labels(ax: Axes) -> tuple[object, ...]:
    """What the background holds of ``ax``'s legend: whether it is shown, and its entries."""
    legend = ax.get_legend()
    if legend is None:
        return ()
    return (legend.get_visible(), *(t.get_text() for t in legend.get_texts()))
