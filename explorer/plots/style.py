"""Colours, tick labels and axis limits shared by every view.

Views plot log10 of a quantity on a linear axis and label ticks 10^k: on this machine that draws in
about half the time of a log-scaled axis, and it lets overflow be drawn instead of handed to the
axis. Every limit passed to ``set_xlim``/``set_ylim`` goes through ``finite_limits``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.collections import PathCollection
from matplotlib.figure import SubFigure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from matplotlib.textpath import text_to_path
from matplotlib.ticker import FuncFormatter, Locator, MaxNLocator
from matplotlib.transforms import ScaledTranslation

if TYPE_CHECKING:  # only in annotations: matplotlib.typing.LegendLocType is new in 3.9
    from matplotlib.transforms import Transform
    from matplotlib.typing import LegendLocType
    from typing_extensions import Unpack  # typing.Unpack is 3.11+, the project supports 3.10

# Okabe and Ito's colour-blind-safe palette
BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"
VERMILLION = "#D55E00"
SKY = "#56B4E9"
PURPLE = "#CC79A7"
GREY = "#666666"
BLACK = "#000000"
UNCLIPPED = ORANGE  # the two runs, in every view that compares them
CLIPPED = SKY
HIGHLIGHT = VERMILLION  # an overflow, a first inf/NaN: in plots and in readouts
# the status line: ok, warning, error (GitHub's Primer palette, legible on white)
STATUS_COLOURS = {"ok": "#1a7f37", "warning": "#9a6700", "error": "#cf222e"}

FONT_SIZE = 11  # legible on a projector at the panel's figure size


class LegendStyle(TypedDict, total=False):
    """The ``Axes.legend`` keyword arguments the views set (matplotlib's stubs take them as
    ``**kwargs: Any``, all but ``loc``): typed here so a misspelt key or value is caught."""

    loc: LegendLocType
    bbox_to_anchor: tuple[float, float]
    bbox_transform: Transform
    ncols: int
    fontsize: float
    frameon: bool
    framealpha: float
    borderaxespad: float
    borderpad: float
    handlelength: float
    handletextpad: float
    columnspacing: float


LEGEND: LegendStyle = {"loc": "upper right", "fontsize": 9, "framealpha": 0.8}
# a legend on one row just above the axes, right-aligned, in the row of a title set on the left
# (``set_row_title``): outside the data, so it hides no curve
ROW_LEGEND: LegendStyle = {
    "loc": "lower right",
    "bbox_to_anchor": (1.0, 1.0),
    "ncols": 8,  # matplotlib uses as many columns as there are entries
    "fontsize": 9,
    "frameon": False,
    "borderaxespad": 0.6,  # clear of marks drawn on the axes' top edge
    "borderpad": 0.2,
    "handlelength": 1.6,
    "handletextpad": 0.5,
    "columnspacing": 1.1,
}

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(exponent: float) -> str:
    """'10⁵' for 5; plain-text superscripts render without mathtext (faster)."""
    return "10" + str(round(exponent)).translate(_SUPERSCRIPT)


def _log10_tick(value: float, _position: object = None) -> str:
    """Tick label on a log10 axis: 10^k at whole k, the plain number between (2, 0.5, 31.6)."""
    if abs(value - round(value)) < 1e-9:
        return power_of_ten(value)
    return f"{10.0**value:.3g}".replace("e-0", "e-")


class Log10Locator(Locator):
    """Ticks for an axis holding log10 values: whole powers of ten when the axis spans two
    decades or more, else the logs of 1-2-5 (or 1..9) times a power of ten, as a log axis would."""

    def __init__(self) -> None:
        self._powers = MaxNLocator(nbins=5, integer=True)

    def __call__(self) -> list[float]:
        assert self.axis is not None, "a Locator is called by the Axis it is set on"
        low, high = sorted(self.axis.get_view_interval())
        return self.tick_values(low, high)

    def tick_values(self, vmin: float, vmax: float) -> list[float]:
        low, high = sorted((vmin, vmax))
        if high - low >= 2 or not (math.isfinite(low) and math.isfinite(high)):
            return list(self._powers.tick_values(low, high))
        mantissas = (1, 2, 5) if high - low >= 0.7 else (1, 2, 3, 4, 5, 6, 7, 8, 9)
        ticks = [
            power + math.log10(m)
            for power in range(math.floor(low), math.ceil(high) + 1)
            for m in mantissas
        ]
        return [t for t in ticks if low - 1e-9 <= t <= high + 1e-9]


def use_log10_axis(ax: Axes, axis: str = "y") -> None:
    """Label a linear axis that holds log10 values with ticks 10^k (or 2, 5, 20 between)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(Log10Locator())
    target.set_major_formatter(FuncFormatter(_log10_tick))


def is_log10_axis(axis: Axis) -> bool:
    """Whether ``axis`` was made a log10 axis by ``use_log10_axis`` (it holds log10 values)."""
    formatter = axis.get_major_formatter()
    return isinstance(formatter, FuncFormatter) and formatter.func is _log10_tick


def use_integer_axis(ax: Axes, axis: str = "x") -> None:
    """Ticks at whole numbers only (layer and step indices)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(nbins=6, integer=True, steps=[1, 2, 5, 10]))


def log10_finite(values: np.ndarray) -> np.ndarray:
    """log10 of |values| where finite and non-zero, NaN elsewhere (matplotlib leaves a gap)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    ok = np.isfinite(values) & (values != 0)
    out[ok] = np.log10(np.abs(values[ok]))
    return out


def finite_limits(
    *arrays: np.ndarray, pad: float = 0.06, minimum_span: float = 1.0
) -> tuple[float, float]:
    """(low, high) covering the finite values of ``arrays``, padded, never inf or NaN."""
    finite = [np.asarray(a, dtype=np.float64) for a in arrays]
    values = np.concatenate([a[np.isfinite(a)] for a in finite]) if finite else np.empty(0)
    if values.size == 0:
        return (-minimum_span / 2, minimum_span / 2)
    low, high = float(values.min()), float(values.max())
    if high - low < minimum_span:
        middle = (low + high) / 2
        low, high = middle - minimum_span / 2, middle + minimum_span / 2
    span = high - low
    low, high = low - pad * span, high + pad * span
    assert math.isfinite(low)
    assert math.isfinite(high)
    return (low, high)


_NICE_MANTISSAS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0)


def nice_ceiling(value: float) -> float:
    """Smallest of 1, 1.5, 2, 3, 5, 7.5 times a power of ten that is >= value."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in _NICE_MANTISSAS if m * power >= value * (1 - 1e-12))


def sticky_limits(
    wanted: tuple[float, float],
    current: tuple[float, float] | None,
    fill: float = 0.4,
    headroom: float = 0.25,
) -> tuple[float, float]:
    """Axis limits that cover ``wanted`` and change as seldom as possible.

    The current limits are kept while they cover the wanted range and it fills at least ``fill``
    (40 %) of them. Otherwise the wanted range gets ``headroom`` (a quarter) of its span on each
    side and is widened to a grid of about a fifth of its span. Unchanged limits let a panel
    redraw only its
    data (blitting) instead of every tick and label: see ``explorer.panels.redraw``.
    """
    low, high = wanted
    if current is not None:
        current_low, current_high = current
        covers = current_low <= low and high <= current_high
        if covers and (high - low) >= fill * (current_high - current_low):
            return current
    room = headroom * (high - low)
    low, high = low - room, high + room
    step = nice_ceiling((high - low) / 5)
    return (math.floor(low / step) * step, math.ceil(high / step) * step)


def format_number(value: float) -> str:
    """A readout number: 524,288 for whole numbers below 1e7, 1.23e+45 beyond, 'inf'/'nan' kept."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e7:
        return f"{int(value):,}"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3g}"


MARKERS_UP_TO = 60  # draw a marker per point only while they stay distinguishable


def nonfinite_indices(values: np.ndarray, first: int) -> np.ndarray:
    """Indices (counting from ``first``) whose value is inf or NaN."""
    return np.flatnonzero(~np.isfinite(values)) + first


def index_limits(last: int, first: int) -> tuple[float, float]:
    """x limits for indices first..last, widened to a nice number so they change seldom."""
    right = nice_ceiling(max(last, 5))
    return (first - 0.03 * right, right * 1.03)


def format_power(log10_value: float) -> str:
    """10^x written out: '1.6e+45 = 10^45.20' when it fits a float, else just the power."""
    if not np.isfinite(log10_value):
        return "nan (non-finite)" if np.isnan(log10_value) else "0"
    exponent = f"10^{log10_value:.2f}"
    if abs(log10_value) < 300:
        return f"{format_number(10.0**log10_value)} = {exponent}"
    return exponent


def show_legend(ax: Axes, handles: Sequence[Artist], **kwargs: Unpack[LegendStyle]) -> None:
    """A legend of the visible ``handles``, rebuilt only when that set changes (a legend is drawn
    with the static background, so a new one means a full redraw)."""
    visible = [h for h in handles if h.get_visible()]
    labels = [h.get_label() for h in visible]
    legend = ax.get_legend()
    if legend is not None and [t.get_text() for t in legend.get_texts()] == labels:
        return
    ax.legend(handles=visible, labels=labels, **kwargs)


def set_row_title(ax: Axes, title: str, **kwargs: Any) -> None:
    """The title on the left of its row, leaving the right for a ``ROW_LEGEND``. ``kwargs``:
    Text properties (``fontsize``, ``color``, ...), open as in ``Axes.set_title``."""
    ax.set_title(title, loc="left", **kwargs)


def setup_log_axes(
    ax: Axes,
    title: str,
    xlabel: str,
    ylabel: str,
    *,
    title_loc: Literal["left", "center", "right"] = "center",
    title_pad: float | None = None,
) -> None:
    """Title and labels, log10 values on y, whole-number indices on x, a light grid."""
    ax.set_title(title, loc=title_loc, pad=title_pad)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    use_log10_axis(ax)
    use_integer_axis(ax)
    ax.grid(True, alpha=0.3)


def overflow_marks(ax: Axes, label: str | None = None) -> PathCollection:
    """Empty markers for indices holding inf/NaN, placed along the top by ``place_marks``."""
    from explorer.plots.table import mark_positions  # table reads this module's log10 axes

    marks = ax.scatter(
        [], [], marker="v", s=40, color=VERMILLION, zorder=5, label=label, clip_on=False
    )
    mark_positions(marks, "x")  # the export writes the indices, not the height they sit at
    return marks


def place_marks(marks: PathCollection, indices: np.ndarray, top: float) -> None:
    """Put ``marks`` at ``indices`` along the height ``top``."""
    marks.set_offsets(
        np.column_stack([indices, np.full(indices.size, top)]) if indices.size else np.empty((0, 2))
    )


def warning_note(ax: Axes) -> Text:
    """An empty line of text at the axes' lower left, for what overflowed or underflowed (set it
    with ``set_text_within`` to keep it inside the axes)."""
    return ax.text(
        0.01, 0.03, "", transform=ax.transAxes, color=VERMILLION, fontsize=10, va="bottom"
    )


def figure_size_inches(ax: Axes) -> tuple[float, float]:
    """(width, height) in inches of the figure that ``ax``'s position is a fraction of: its
    Figure, or the SubFigure it sits in (which has no size of its own: its box, over the dpi)."""
    figure = ax.figure
    if isinstance(figure, SubFigure):
        return (figure.bbox.width / figure.dpi, figure.bbox.height / figure.dpi)
    return (figure.get_figwidth(), figure.get_figheight())


def axes_width_points(ax: Axes) -> float:
    """The axes' width in points at the figure's size (without drawing)."""
    return ax.get_position().width * figure_size_inches(ax)[0] * 72.0


@functools.lru_cache(maxsize=1024)
def _glyph_width(character: str, prop: FontProperties) -> float:
    return text_to_path.get_text_width_height_descent(character, prop, ismath=False)[0]


def text_width(text: str, prop: FontProperties) -> float:
    """About the width in points of one line of ``text`` in font ``prop``, without drawing: the
    sum of its glyphs' widths (no kerning, so rather more than less) plus 2 % for Agg's hinting.
    Cached per glyph: a measurement of a whole string costs ~1 ms, this a few microseconds."""
    key = prop.copy()  # a frozen key: a text's own FontProperties can change later
    return 1.02 * sum(_glyph_width(character, key) for character in text)


def wrap_to_width(message: str, text: Text, width_points: float) -> str:
    """``message`` with line breaks between words so that each line of ``text``'s font is at
    most ``width_points`` wide (a word longer than that keeps a line of its own)."""
    prop = text.get_fontproperties()
    lines: list[str] = []
    for paragraph in message.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and text_width(candidate, prop) > width_points:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return "\n".join(lines)


def set_text_within(text: Text, message: str, ax: Axes) -> None:
    """Set ``text`` (placed at axes x ``text``'s x, left-aligned) to ``message`` wrapped so it
    ends before the axes' right edge: a long note never runs into the next axes."""
    x = text.get_position()[0]
    available = (1.0 - x - 0.01) * axes_width_points(ax)
    text.set_text(wrap_to_width(message, text, available) if message else "")


def axes_height_points(ax: Axes) -> float:
    """The axes' height in points at the figure's size (without drawing)."""
    return ax.get_position().height * figure_size_inches(ax)[1] * 72.0


def limits_below_band(
    wanted: tuple[float, float], current: tuple[float, float] | None, ax: Axes, band: float
) -> tuple[float, float]:
    """y limits (sticky, see ``sticky_limits``) that keep the top ``band`` points of the axes
    free of the ``wanted`` range: room for a note or a legend that then covers no data."""
    fraction = min(band / axes_height_points(ax), 0.6)
    data_part = None
    if current is not None:
        low, high = current
        data_part = (low, low + (high - low) * (1.0 - fraction))
    # half the span as headroom: a slider moving the data one way redraws in full half as often
    # (a full draw costs about 80 ms, a blit 10-20 ms: docs/PERFORMANCE.md)
    kept = sticky_limits(wanted, data_part, fill=0.25, headroom=0.5)
    if current is not None and kept is data_part:
        return current  # unchanged limits: the panel can blit
    low, high = kept
    return (low, low + (high - low) / (1.0 - fraction))


def band_bottom(limits: tuple[float, float], ax: Axes, band: float) -> float:
    """The data value where the free band of ``limits_below_band`` begins (the data's top)."""
    low, high = limits
    return high - (high - low) * min(band / axes_height_points(ax), 0.6)


# a legend in the band along the top of the axes (``limits_below_band``), several columns
BAND_LEGEND: LegendStyle = {
    "loc": "upper left",
    "fontsize": 9,
    "framealpha": 0.85,
    "borderaxespad": 0.4,
    "borderpad": 0.3,
    "handlelength": 1.6,
    "handletextpad": 0.5,
    "columnspacing": 1.1,
}
BAND_LEGEND_2: LegendStyle = {**BAND_LEGEND, "ncols": 2, "fontsize": 8.5}  # two columns


class CountLocator(MaxNLocator):
    """Whole-number ticks from 0 up (a count: no 0.5, no negative counts)."""

    def __init__(self) -> None:
        super().__init__(integer=True, min_n_ticks=2)

    def tick_values(self, vmin: float, vmax: float) -> list[float]:
        # a list, as Log10Locator returns: Locator's stub promises a Sequence, which an ndarray
        # is not (matplotlib takes either)
        return [tick for tick in super().tick_values(vmin, vmax) if tick >= 0]


def threshold_label(ax: Axes, text: str = " threshold") -> Text:
    """A label for a horizontal threshold line, just right of the axes at the line's height (set
    with ``set_y``): it names the line without a legend entry over the data."""
    return ax.text(
        1.0,
        0.0,
        text,
        transform=ax.get_yaxis_transform(),
        fontsize=9,
        va="center",
        ha="left",
        clip_on=False,
        visible=False,
    )


def legend_below(ax: Axes, offset: float, fontsize: float = 8) -> LegendStyle:
    """Legend arguments for one row centred under ``ax``, ``offset`` points below its bottom:
    outside the data and the tick labels."""
    below = ScaledTranslation(0.0, -offset / 72.0, ax.figure.dpi_scale_trans)
    return {
        **LEGEND,
        "loc": "upper center",
        "bbox_to_anchor": (0.5, 0.0),
        "bbox_transform": ax.transAxes + below,
        "borderaxespad": 0.0,
        "ncols": 4,
        "fontsize": fontsize,
        "handlelength": 1.6,
        "columnspacing": 1.1,
    }


def show_placeholder(ax: Axes, message: str) -> Text:
    """Before there is data: ``message`` in the middle of an axes with no ticks and no grid
    (an empty axes' 0..1 ticks would mean nothing). ``hide_placeholder`` undoes it."""
    ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)
    ax.xaxis.grid(False)
    ax.yaxis.grid(False)
    return ax.text(
        0.5,
        0.5,
        message,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=11,
        color=GREY,
    )


def hide_placeholder(ax: Axes, placeholder: Text, axis: Literal["both", "x", "y"] = "both") -> None:
    """Show the ticks (and the grid along ``axis``) and hide the placeholder; once only."""
    if not placeholder.get_visible():
        return
    placeholder.set_visible(False)
    ax.tick_params(left=True, bottom=True, labelleft=True, labelbottom=True)
    ax.grid(True, axis=axis, alpha=0.3)
