"""Paths a mutation run found untested: the clipping panel's input limits, and the blit cache's
dependence on the legend.

Only stable public names are used (``parse_gradient``, ``MAX_TENSORS``, ``MAX_COMPONENTS``,
``Redrawer``, ``make_figure``): the panels are being reorganised around them.
"""

from __future__ import annotations

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from explorer.panels.base import make_figure
from explorer.panels.clip import MAX_COMPONENTS, MAX_TENSORS, parse_gradient
from explorer.panels.redraw import Redrawer

MAX_TEXT = 2000  # characters: parse_gradient reads no longer text

pytestmark = pytest.mark.usefixtures("close_new_widgets")


def _names(number: int) -> str:
    """A pattern for ``number`` written as a whole word (8 but not 128)."""
    return rf"(?<![\d.]){number}(?![\d.])"


# -- parse_gradient's limits ------------------------------------------------------------------


def test_exactly_max_tensors_tensors_are_read() -> None:
    text = "; ".join(str(k + 1) for k in range(MAX_TENSORS))
    tensors = parse_gradient(text)
    assert len(tensors) == MAX_TENSORS
    assert [t.tolist() for t in tensors] == [[k + 1.0] for k in range(MAX_TENSORS)]


def test_one_tensor_more_than_max_tensors_is_refused_naming_the_limit() -> None:
    text = "; ".join("1" for _ in range(MAX_TENSORS + 1))  # few numbers: only the count is over
    assert MAX_TENSORS + 1 <= MAX_COMPONENTS
    with pytest.raises(ValueError, match=_names(MAX_TENSORS)) as refused:
        parse_gradient(text)
    assert "tensor" in str(refused.value)


def test_exactly_max_components_numbers_are_read() -> None:
    one_tensor = parse_gradient(", ".join(str(k) for k in range(MAX_COMPONENTS)))
    assert [t.size for t in one_tensor] == [MAX_COMPONENTS]
    assert one_tensor[0].tolist() == [float(k) for k in range(MAX_COMPONENTS)]
    # spread over the most tensors allowed, the same total is read too
    per_tensor, rest = divmod(MAX_COMPONENTS, MAX_TENSORS)
    sizes = [per_tensor + (k < rest) for k in range(MAX_TENSORS)]
    text = "; ".join(", ".join("0.5" for _ in range(size)) for size in sizes)
    spread = parse_gradient(text)
    assert [t.size for t in spread] == sizes
    assert sum(sizes) == MAX_COMPONENTS


@pytest.mark.parametrize("tensors", [1, MAX_TENSORS])
def test_one_number_more_than_max_components_is_refused_naming_the_limit(tensors: int) -> None:
    sizes = [1] * (tensors - 1) + [MAX_COMPONENTS + 1 - (tensors - 1)]
    text = "; ".join(", ".join("2" for _ in range(size)) for size in sizes)
    assert len(text) <= MAX_TEXT  # only the count of numbers is over
    with pytest.raises(ValueError, match=_names(MAX_COMPONENTS)) as refused:
        parse_gradient(text)
    assert "number" in str(refused.value)


def test_text_of_the_longest_length_is_read() -> None:
    text = "3, 4" + " " * (MAX_TEXT - 4)
    assert len(text) == MAX_TEXT
    assert [t.tolist() for t in parse_gradient(text)] == [[3.0, 4.0]]


def test_text_over_the_longest_length_is_refused() -> None:
    text = "3, 4" + " " * (MAX_TEXT - 3)  # two numbers: only the length is over
    assert len(text) == MAX_TEXT + 1
    with pytest.raises(ValueError, match="gradient"):
        parse_gradient(text)


def test_text_over_the_longest_length_is_refused_naming_the_limit() -> None:
    with pytest.raises(ValueError, match=_names(MAX_TEXT)):
        parse_gradient("3, 4" + " " * (MAX_TEXT - 3))


# -- the blit cache and the legend ------------------------------------------------------------


@pytest.fixture
def figure() -> Figure:
    """A figure on a real ipympl canvas (a widget: closed afterwards by ``close_new_widgets``)."""
    return make_figure(6.0, 4.0)


def _plotted(figure: Figure) -> tuple[Axes, Redrawer]:
    """Two labelled lines on fixed limits with a legend; the lines are the redrawn artists.
    The figure has been drawn once, as the front end does when it first shows the canvas."""
    ax = figure.add_subplot(1, 1, 1)
    first = ax.plot([0, 1], [0, 1], label="unclipped")[0]
    second = ax.plot([0, 1], [1, 0], label="clipped")[0]
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend()
    redrawer = Redrawer(figure, [first, second])
    figure.canvas.draw()
    return ax, redrawer


def _count_full_draws(figure: Figure) -> list[str]:
    """Records each full draw the canvas is asked for (``draw_idle``: the front end then draws
    the whole figure) and each full draw it makes (``draw``)."""
    canvas = figure.canvas
    calls: list[str] = []
    draw_idle, draw = canvas.draw_idle, canvas.draw

    def counted_draw_idle(*args: object, **kwargs: object) -> None:
        calls.append("draw_idle")
        draw_idle(*args, **kwargs)

    def counted_draw(*args: object, **kwargs: object) -> None:
        calls.append("draw")
        draw(*args, **kwargs)

    canvas.draw_idle = counted_draw_idle
    canvas.draw = counted_draw
    return calls


def test_unchanged_legend_and_limits_blit(figure: Figure) -> None:
    """The control case: the data moves, limits and legend stay: a blit, no full draw."""
    ax, redrawer = _plotted(figure)
    calls = _count_full_draws(figure)
    ax.lines[0].set_ydata([0.2, 0.8])
    assert redrawer.redraw() == "blit"
    assert (redrawer.blits, redrawer.full_draws) == (1, 0)
    assert calls == []


def test_new_legend_text_alone_makes_a_full_draw(figure: Figure) -> None:
    """The cached background holds the legend (it is not among the redrawn artists): a legend
    whose text changed, nothing else, must be drawn in full, not blitted onto the old one. Once
    drawn, the background is the new one and the next redraw blits again."""
    ax, redrawer = _plotted(figure)
    calls = _count_full_draws(figure)
    ax.get_legend().get_texts()[1].set_text("clipped at 1")
    assert redrawer.redraw() == "full"
    assert (redrawer.blits, redrawer.full_draws) == (0, 1)
    assert calls == ["draw_idle"]
    figure.canvas.draw()  # the front end answers draw_idle with a full draw
    assert redrawer.redraw() == "blit"
    assert (redrawer.blits, redrawer.full_draws) == (1, 1)


def test_new_legend_entries_make_a_full_draw(figure: Figure) -> None:
    """A legend rebuilt with other entries (a run hidden), the limits unchanged: a full draw."""
    ax, redrawer = _plotted(figure)
    calls = _count_full_draws(figure)
    ax.legend(handles=[ax.lines[0]])
    assert redrawer.redraw() == "full"
    assert calls == ["draw_idle"]
    figure.canvas.draw()
    assert redrawer.redraw() == "blit"


def test_removed_legend_makes_a_full_draw(figure: Figure) -> None:
    ax, redrawer = _plotted(figure)
    calls = _count_full_draws(figure)
    ax.get_legend().remove()
    assert redrawer.redraw() == "full"
    assert calls == ["draw_idle"]


def test_hidden_legend_makes_a_full_draw(figure: Figure) -> None:
    ax, redrawer = _plotted(figure)
    ax.get_legend().set_visible(False)
    assert redrawer.redraw() == "full"
