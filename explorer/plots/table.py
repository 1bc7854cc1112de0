"""The data behind a figure, as columns: what "CSV" in a panel's export bar writes.

``figure_columns`` reads what a figure's axes draw, whatever view drew it, so one function serves
every panel:

- lines (``Line2D``, and 3-D lines): x, y (and z); a labelled line across the axes (``axhline``,
  ``axvline``) gives its one value; an unlabelled one is a decoration and is left out;
- scatter marks (``PathCollection``): their x, y;
- line bundles and contour lines (other collections): their vertices, NaN between pieces;
- images (``AxesImage``) and ``QuadMesh``: one row per cell, its centre and its value, or the
  exact grid a view gave with ``tabulate_image``;
- bars (``BarContainer``): each bar's position (its tick label when the axis names them) and the
  value at its end; histogram steps (``StepPatch``): each bin's edges and its count.

Marks a view declared with ``mark_positions`` give their one coordinate. Invisible axes and
artists, empty ones, and colour bars are skipped.

An axis made by ``use_log10_axis`` holds log10 values: they are written as the values themselves
(10^v, the quantity to rounding). A view that gave an artist its exact values with ``tabulate``
(the panels' views do, for their curves and bars) has those written as they are, so 0, inf and
NaN, which a log axis draws as a gap, are written as 0, inf and nan. Each column is named "axes:
series: coordinate", after the axes' title, the artist's label and the axis label.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
import numpy.typing as npt
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.collections import Collection, PathCollection, QuadMesh
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle, StepPatch
from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter

from explorer.plots.style import is_log10_axis

__all__ = [
    "Column",
    "columns_csv",
    "figure_columns",
    "mark_positions",
    "tabulate",
    "tabulate_image",
]


@dataclass(frozen=True)
class Column:
    """One column of a figure's data: its name and its values (floats, or tick labels)."""

    name: str
    values: npt.NDArray[Any]  # 1-D: float64, or str for the names of bars


@dataclass(frozen=True)
class _Grid:
    """An image's exact grid, given by its view: x and y of the cells' centres, their values."""

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]  # (len(y), len(x))
    name: str


_GRIDS: WeakKeyDictionary[AxesImage, _Grid] = WeakKeyDictionary()
_MARKS: WeakKeyDictionary[Artist, str] = WeakKeyDictionary()
_EXACT: WeakKeyDictionary[Artist, tuple[str, npt.NDArray[np.float64]]] = WeakKeyDictionary()
GENERIC = ("line", "points", "lines", "mesh", "bars", "histogram", "image")  # numbered when unnamed


def mark_positions(artist: Artist, axis: str = "x") -> None:
    """``artist`` marks positions along ``axis`` only ("x" or "y"): its other coordinate just
    places it on the figure (marks along the top of the data, a rug under the bars), so the
    export writes the one coordinate."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    _MARKS[artist] = axis


def tabulate(artist: Artist, values: npt.ArrayLike, axis: str = "y") -> None:
    """Export ``values`` as ``artist``'s ``axis`` coordinate ("x" or "y") instead of what is
    drawn: a view that draws a transformed copy (log10, where 0, inf and NaN become gaps; a
    floor) keeps the exact data, inf and NaN included. A line takes one value per point, a bar
    one value for its end; values of another length are ignored (the drawing is written)."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    _EXACT[artist] = (axis, np.asarray(values, dtype=np.float64).ravel())


def _exact(artist: Artist, axis: str, drawn: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The values ``tabulate`` gave for ``artist``'s ``axis``, if they fit; else ``drawn``."""
    found = _EXACT.get(artist)
    if found is None or found[0] != axis or found[1].size != drawn.size:
        return drawn
    return found[1]


def tabulate_image(
    image: AxesImage, x: npt.ArrayLike, y: npt.ArrayLike, values: npt.ArrayLike, name: str
) -> None:
    """Export ``image`` as ``values`` over the grid ``x`` (columns) by ``y`` (rows), named
    ``name``, instead of the colours' data and cell centres read from its extent: a view that
    draws a transformed or clipped quantity (the log of a loss, floored) keeps the exact one."""
    grid = _Grid(
        np.asarray(x, dtype=np.float64),
        np.asarray(y, dtype=np.float64),
        np.asarray(values, dtype=np.float64),
        name,
    )
    if grid.values.shape != (grid.y.size, grid.x.size):
        raise ValueError(
            f"values must be (len(y), len(x)) = {(grid.y.size, grid.x.size)},"
            f" got {grid.values.shape}"
        )
    _GRIDS[image] = grid


def figure_columns(figure: Figure) -> list[Column]:
    """The data ``figure`` draws, as named columns (see the module docstring)."""
    columns: list[Column] = []
    for index, ax in enumerate(figure.axes):
        if not ax.get_visible() or getattr(ax, "_colorbar", None) is not None:
            continue
        columns += _axes_columns(ax, _axes_name(ax, index))
    return _unique(columns)


def columns_csv(columns: Sequence[Column]) -> str:
    """``columns`` side by side as CSV text: a header row, then one row per index; a shorter
    column leaves its cells empty. Numbers are written exactly (Python's shortest repr), inf and
    NaN as ``inf``, ``-inf`` and ``nan``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([column.name for column in columns])
    rows = max((column.values.size for column in columns), default=0)
    cells = [[_cell(value) for value in column.values] for column in columns]
    for row in range(rows):
        writer.writerow([values[row] if row < len(values) else "" for values in cells])
    return out.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, str | np.str_):
        return str(value)
    return repr(float(value))


# -- one axes ----------------------------------------------------------------------------------
def _axes_name(ax: Axes, index: int) -> str:
    for loc in ("center", "left", "right"):
        title = ax.get_title(loc=loc)
        if title:
            return " ".join(title.split())
    return f"axes {index + 1}"


def _axes_columns(ax: Axes, name: str) -> list[Column]:
    columns: list[Column] = []
    counts: dict[str, int] = {}

    def series(artist: Any, kind: str) -> str:
        label = str(artist.get_label() or "")
        if label and not label.startswith("_"):
            return " ".join(label.split())
        counts[kind] = counts.get(kind, 0) + 1
        return kind if kind not in GENERIC else f"{kind} {counts[kind]}"

    for line in ax.get_lines():
        if line.get_visible():
            columns += _line_columns(ax, line, name, series)
    for collection in ax.collections:
        if collection.get_visible():
            columns += _collection_columns(ax, collection, name, series)
    for image in ax.get_images():
        if image.get_visible():
            columns += _image_columns(ax, image, f"{name}: {series(image, _image_name(image))}")
    in_bars: set[int] = set()
    for container in ax.containers:
        if isinstance(container, BarContainer):
            bars = [bar for bar in container.patches if bar.axes is ax and bar.get_visible()]
            in_bars.update(id(bar) for bar in container.patches)
            if bars:
                label = series(container, "bars")
                vertical = container.orientation != "horizontal"
                columns += _bar_columns(ax, bars, vertical, f"{name}: {label}")
    for patch in ax.patches:
        if isinstance(patch, StepPatch) and patch.get_visible() and id(patch) not in in_bars:
            columns += _steps_columns(ax, patch, f"{name}: {series(patch, 'histogram')}")
    return columns


def _label(ax: Axes, axis: str) -> str:
    """The label of ``ax``'s ``axis`` ("x", "y", or "z" on a 3-D axes), or the axis' letter."""
    getter = getattr(ax, f"get_{axis}label", None)
    label = str(getter()) if callable(getter) else ""
    return " ".join(label.split()) or axis


def _axis(ax: Axes, axis: str) -> Axis | None:
    found = getattr(ax, f"{axis}axis", None)
    return found if isinstance(found, Axis) else None


def _values(ax: Axes, axis: str, data: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``data`` drawn along ``axis`` as the quantity it stands for (10^v on a log10 axis)."""
    values = np.asarray(np.ma.filled(np.ma.asarray(data, dtype=np.float64), np.nan)).ravel()
    found = _axis(ax, axis)
    if found is not None and is_log10_axis(found):
        with np.errstate(over="ignore"):
            return np.power(10.0, values)
    return values


def _coordinates(ax: Axes, prefix: str, axes: str, points: Sequence[npt.ArrayLike]) -> list[Column]:
    return [
        Column(f"{prefix}: {_label(ax, axis)}", _values(ax, axis, data))
        for axis, data in zip(axes, points, strict=True)
    ]


def _line_columns(ax: Axes, line: Line2D, name: str, series: Any) -> list[Column]:
    data_3d = getattr(line, "get_data_3d", None)
    if data_3d is not None:
        points = [np.asarray(v, dtype=np.float64) for v in data_3d()]
        if points[0].size == 0:
            return []
        return _coordinates(ax, f"{name}: {series(line, 'line')}", "xyz", points)
    x, y = (np.asarray(v, dtype=np.float64) for v in line.get_data())
    if x.size == 0:
        return []
    transform = line.get_transform()
    across = {  # a line across the axes (axhline, axvline): one coordinate is in axes units
        "y": transform is ax.get_yaxis_transform(which="grid"),
        "x": transform is ax.get_xaxis_transform(which="grid"),
    }
    if across["x"] or across["y"]:
        label = str(line.get_label() or "")
        if not label or label.startswith("_"):
            return []  # a decoration: the zero axes, a cursor
        axis = "y" if across["y"] else "x"
        value = np.unique(y if axis == "y" else x)
        return _coordinates(ax, f"{name}: {series(line, 'line')}", axis, [value])
    return _marked(ax, line, f"{name}: {series(line, 'line')}", x, y)


def _marked(
    ax: Axes, artist: Artist, prefix: str, x: npt.ArrayLike, y: npt.ArrayLike
) -> list[Column]:
    """x and y of ``artist``'s points (the exact values ``tabulate`` gave, if any), or only the
    one a ``mark_positions`` artist marks."""
    points = {"x": x, "y": y}
    axes = _MARKS.get(artist, "xy")
    return [
        Column(
            f"{prefix}: {_label(ax, axis)}", _exact(artist, axis, _values(ax, axis, points[axis]))
        )
        for axis in axes
    ]


def _collection_columns(ax: Axes, collection: Collection, name: str, series: Any) -> list[Column]:
    if isinstance(collection, QuadMesh):
        return _mesh_columns(ax, collection, f"{name}: {series(collection, 'mesh')}")
    if isinstance(collection, PathCollection):
        offsets = np.asarray(np.ma.filled(collection.get_offsets(), np.nan), dtype=np.float64)
        if offsets.size == 0:
            return []
        prefix = f"{name}: {series(collection, 'points')}"
        return _marked(ax, collection, prefix, offsets[:, 0], offsets[:, 1])
    pieces = [
        polygon
        for path in collection.get_paths()
        for polygon in path.to_polygons(closed_only=False)
        if np.asarray(polygon).size
    ]
    if not pieces:
        return []
    gap = np.full((1, 2), np.nan)
    joined = np.concatenate([part for piece in pieces for part in (piece, gap)][:-1])
    prefix = f"{name}: {series(collection, 'lines')}"
    return _coordinates(ax, prefix, "xy", [joined[:, 0], joined[:, 1]])


def _grid_columns(
    ax: Axes, prefix: str, x: npt.ArrayLike, y: npt.ArrayLike, values: npt.ArrayLike, name: str
) -> list[Column]:
    """One row per cell of a (len(y), len(x)) grid: its x, its y, its value."""
    grid_x, grid_y = np.meshgrid(np.asarray(x), np.asarray(y))
    return [
        *_coordinates(ax, prefix, "xy", [grid_x, grid_y]),
        Column(f"{prefix}: {name}", np.asarray(values, dtype=np.float64).ravel()),
    ]


def _image_name(image: AxesImage) -> str:
    """What an unlabelled image shows: its exact grid's name, or its colour bar's label."""
    grid = _GRIDS.get(image)
    name = grid.name if grid is not None else _value_name(image)
    return "image" if name == "value" else name  # an image of nothing named: "image 1"


def _image_columns(ax: Axes, image: AxesImage, prefix: str) -> list[Column]:
    grid = _GRIDS.get(image)
    if grid is not None:
        return _grid_columns(ax, prefix, grid.x, grid.y, grid.values, grid.name)
    array = np.ma.filled(np.ma.asarray(image.get_array(), dtype=np.float64), np.nan)
    if array.ndim != 2 or array.size == 0:
        return []  # an RGB picture holds no data
    left, right, bottom, top = image.get_extent()
    rows, cols = array.shape
    x = left + (np.arange(cols) + 0.5) * (right - left) / cols
    y = bottom + (np.arange(rows) + 0.5) * (top - bottom) / rows
    if image.origin == "upper":
        array = array[::-1]
    return _grid_columns(ax, prefix, x, y, array, _value_name(image))


def _mesh_columns(ax: Axes, mesh: QuadMesh, prefix: str) -> list[Column]:
    corners = np.asarray(mesh.get_coordinates(), dtype=np.float64)  # (rows + 1, cols + 1, 2)
    centres = (corners[:-1, :-1] + corners[1:, :-1] + corners[:-1, 1:] + corners[1:, 1:]) / 4
    array = mesh.get_array()
    if array is None or centres.size == 0:
        return []
    values = np.ma.filled(np.ma.asarray(array, dtype=np.float64), np.nan).reshape(centres.shape[:2])
    return [
        *_coordinates(ax, prefix, "xy", [centres[..., 0], centres[..., 1]]),
        Column(f"{prefix}: {_value_name(mesh)}", values.ravel()),
    ]


def _value_name(mappable: Any) -> str:
    colorbar = getattr(mappable, "colorbar", None)
    label = colorbar.ax.get_ylabel() if colorbar is not None else ""
    return " ".join(str(label).split()) or "value"


def _bar_columns(ax: Axes, bars: list[Rectangle], vertical: bool, prefix: str) -> list[Column]:
    """Each bar's position (its tick label, if the axis names it) and the value at its end."""
    along, across = ("x", "y") if vertical else ("y", "x")
    if vertical:
        where = [bar.get_x() + bar.get_width() / 2 for bar in bars]
        ends = [bar.get_y() + bar.get_height() for bar in bars]
    else:
        where = [bar.get_y() + bar.get_height() / 2 for bar in bars]
        ends = [bar.get_x() + bar.get_width() for bar in bars]
    names = _tick_names(_axis(ax, along), where)
    label = _label(ax, along)
    position = (
        Column(f"{prefix}: {'name' if label == along else label}", names)
        if names is not None
        else _coordinates(ax, prefix, along, [where])[0]
    )
    drawn = _values(ax, across, ends)
    exact = [_exact(bar, across, drawn[i : i + 1]) for i, bar in enumerate(bars)]
    values = np.concatenate(exact) if exact else drawn
    return [position, Column(f"{prefix}: {_label(ax, across)}", values)]


def _tick_names(axis: Axis | None, where: Sequence[float]) -> npt.NDArray[np.str_] | None:
    """The tick label of each position in ``where`` (the nearest tick, within half the ticks'
    spacing: bars side by side share their row's name), when ``axis`` names its ticks."""
    if axis is None:
        return None
    locator, formatter = axis.get_major_locator(), axis.get_major_formatter()
    named = isinstance(formatter, FixedFormatter | FuncFormatter)  # set_ticks(..., labels)
    if not isinstance(locator, FixedLocator) or not named or is_log10_axis(axis):
        return None
    locations = np.asarray(locator.tick_values(0.0, 0.0), dtype=np.float64)
    if locations.size == 0:
        return None
    labels = [str(label) for label in formatter.format_ticks(list(locations))]
    spacing = float(np.diff(np.sort(locations)).min()) if locations.size > 1 else 1.0
    found = []
    for position in where:
        nearest = int(np.argmin(np.abs(locations - position)))
        if abs(locations[nearest] - position) > spacing / 2:
            return None
        found.append(labels[nearest])
    return np.array(found, dtype=str)


def _steps_columns(ax: Axes, patch: StepPatch, prefix: str) -> list[Column]:
    values, edges, _baseline = patch.get_data()
    counts, edges = np.asarray(values, dtype=np.float64), np.asarray(edges, dtype=np.float64)
    if counts.size == 0:
        return []
    if patch.orientation == "vertical":
        along, across = "x", "y"
    else:
        along, across = "y", "x"
    bins = _values(ax, along, edges)
    label = _label(ax, along)
    return [
        Column(f"{prefix}: {label} from", bins[:-1]),
        Column(f"{prefix}: {label} to", bins[1:]),
        Column(f"{prefix}: {_label(ax, across)}", _values(ax, across, counts)),
    ]


def _unique(columns: list[Column]) -> list[Column]:
    """``columns`` with any repeated name numbered (two untitled axes, two equal labels)."""
    seen: dict[str, int] = {}
    named = []
    for column in columns:
        seen[column.name] = seen.get(column.name, 0) + 1
        count = seen[column.name]
        named.append(column if count == 1 else Column(f"{column.name} ({count})", column.values))
    return named
