"""``explorer.plots.table``: the columns read back from a figure's artists (Agg, no widgets).

The expected values are the data handed to matplotlib in each test; nothing is recomputed the
way the module computes it.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from explorer.plots.style import use_log10_axis
from explorer.plots.table import (
    Column,
    columns_csv,
    figure_columns,
    mark_positions,
    tabulate,
    tabulate_image,
)


def by_name(figure: Figure) -> dict[str, np.ndarray]:
    return {column.name: column.values for column in figure_columns(figure)}


def test_lines_on_a_log10_axis_give_the_values_and_exact_ones_win() -> None:
    """A log10 axis holding log10([1, 100, 1e-3]) gives [1, 100, 1e-3] back (to rounding); a line
    given its exact values with ``tabulate`` gives them as they are, inf and 0 included."""
    figure = Figure()
    ax = figure.add_subplot()
    ax.set_title("norms")
    ax.set_xlabel("layer")
    ax.set_ylabel("norm")
    use_log10_axis(ax)
    ax.plot([1, 2, 3], np.log10([1.0, 100.0, 1e-3]), label="drawn")
    (exact,) = ax.plot([1, 2, 3], [0.0, np.nan, 1.0], label="exact")
    tabulate(exact, [1.0, math.inf, 0.0])
    (wrong,) = ax.plot([1, 2], [0.0, 1.0], label="wrong length")
    tabulate(wrong, [5.0, 6.0, 7.0])  # ignored: the drawing is written
    ax.axhline(0.0)  # unlabelled: a decoration
    ax.axhline(1.0, label="ten")
    (hidden,) = ax.plot([1], [1], label="hidden")
    hidden.set_visible(False)
    columns = by_name(figure)
    assert columns["norms: drawn: layer"].tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(columns["norms: drawn: norm"], [1.0, 100.0, 1e-3], rtol=1e-14)
    assert columns["norms: exact: norm"].tolist() == [1.0, math.inf, 0.0]
    np.testing.assert_allclose(columns["norms: wrong length: norm"], [1.0, 10.0])
    assert columns["norms: ten: norm"].tolist() == [10.0]
    assert not any("hidden" in name for name in columns)
    assert len([name for name in columns if name.endswith(": norm")]) == 4


def test_marks_give_their_one_coordinate_and_scatter_both() -> None:
    figure = Figure()
    ax = figure.add_subplot()
    marks = ax.scatter([3, 7], [9.0, 9.0], label="inf/NaN")
    mark_positions(marks, "x")
    ax.scatter([1.5], [2.5])
    columns = by_name(figure)
    assert columns["axes 1: inf/NaN: x"].tolist() == [3.0, 7.0]
    assert "axes 1: inf/NaN: y" not in columns
    assert columns["axes 1: points 1: x"].tolist() == [1.5]
    assert columns["axes 1: points 1: y"].tolist() == [2.5]
    with pytest.raises(ValueError, match="axis must be"):
        mark_positions(marks, "z")


def test_images_meshes_and_line_bundles() -> None:
    """An image's cells from its extent (origin upper: the first row drawn at the top), one with
    an exact grid, a QuadMesh's cells, and a bundle of lines with NaN between them."""
    figure = Figure()
    plain, exact, mesh, bundle = figure.subplots(1, 4)
    plain.imshow([[1.0, 2.0], [3.0, 4.0]], extent=(0, 2, 0, 4), origin="upper")
    image = exact.imshow(np.zeros((2, 3)), extent=(0, 1, 0, 1))
    tabulate_image(image, [10.0, 20.0, 30.0], [-1.0, 1.0], [[1, 2, 3], [4, 5, 6]], "loss")
    with pytest.raises(ValueError, match="values must be"):
        tabulate_image(image, [1.0], [1.0], [[1.0, 2.0]], "bad")
    mesh.pcolormesh([0.0, 1.0, 3.0], [0.0, 2.0], [[5.0, 6.0]])
    bundle.add_collection(LineCollection([[(0, 0), (1, 1)], [(2, 2), (3, 5)]], label="runs"))
    columns = by_name(figure)
    assert columns["axes 1: image 1: x"].tolist() == [0.5, 1.5, 0.5, 1.5]
    assert columns["axes 1: image 1: y"].tolist() == [1.0, 1.0, 3.0, 3.0]
    assert columns["axes 1: image 1: value"].tolist() == [3.0, 4.0, 1.0, 2.0]
    assert columns["axes 2: loss: x"].tolist() == [10.0, 20.0, 30.0] * 2
    assert columns["axes 2: loss: y"].tolist() == [-1.0] * 3 + [1.0] * 3
    assert columns["axes 2: loss: loss"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert columns["axes 3: mesh 1: x"].tolist() == [0.5, 2.0]
    assert columns["axes 3: mesh 1: value"].tolist() == [5.0, 6.0]
    x = columns["axes 4: runs: x"]
    assert np.array_equal(x, [0.0, 1.0, np.nan, 2.0, 3.0], equal_nan=True)


def test_bars_are_named_after_their_ticks_and_histograms_give_their_bins() -> None:
    figure = Figure()
    bars, rows, steps = figure.subplots(1, 3)
    bars.bar([0, 1], [3.0, 4.0], label="before")
    bars.set_xticks([0, 1], ["tensor 1", "tensor 2"])
    rows.barh([1.2, 0.2], [5.0, 6.0], height=0.3, label="run")  # beside rows 1 and 0
    rows.set_yticks([1, 0], ["w", "b"])
    steps.stairs([2.0, 0.0, 1.0], [0.0, 1.0, 2.0, 4.0], label="counts")
    columns = by_name(figure)
    assert columns["axes 1: before: name"].tolist() == ["tensor 1", "tensor 2"]
    assert columns["axes 1: before: y"].tolist() == [3.0, 4.0]
    assert columns["axes 2: run: name"].tolist() == ["w", "b"]
    assert columns["axes 2: run: x"].tolist() == [5.0, 6.0]
    assert columns["axes 3: counts: x from"].tolist() == [0.0, 1.0, 2.0]
    assert columns["axes 3: counts: x to"].tolist() == [1.0, 2.0, 4.0]
    assert columns["axes 3: counts: y"].tolist() == [2.0, 0.0, 1.0]


def test_csv_writes_every_digit_inf_nan_and_ragged_columns() -> None:
    """Python's shortest repr reads back the same float; inf, -inf and nan by name; a shorter
    column leaves empty cells; repeated names are numbered."""
    figure = Figure()
    ax = figure.add_subplot()
    ax.plot([1, 2], [0.1, 1 / 3], label="a")
    ax.plot([1], [5.0], label="a")
    names = [column.name for column in figure_columns(figure)]
    assert names == ["axes 1: a: x", "axes 1: a: y", "axes 1: a: x (2)", "axes 1: a: y (2)"]
    text = columns_csv(
        [
            Column("x", np.array([1 / 3, math.inf, -math.inf, math.nan])),
            Column("name", np.array(["w", "b"])),
        ]
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["x", "name"]
    assert [row[0] for row in rows[1:]] == [repr(1 / 3), "inf", "-inf", "nan"]
    assert float(rows[1][0]) == 1 / 3
    assert [row[1] for row in rows[1:]] == ["w", "b", "", ""]
    assert columns_csv([]) == "\n"
