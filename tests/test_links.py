"""Links read and written in the kernel (explorer/panels/link.py, the App): a view written as a
link and opened again is the same view, to the last bit; untrusted links are refused with a
message and change nothing else; a teacher's link chooses tabs, hides controls, turns on
projector mode.

The expected state is always the first App's own ``state``: nothing here restates how a link is
written, only that the value survives it.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.app import PANELS, App
from explorer.panels.figures import DPI, FIT_PADDING, PROJECTOR_ZOOM
from explorer.panels.link import RESERVED, parse_link
from explorer.panels.number import NumberSlider

pytestmark = pytest.mark.usefixtures("close_new_widgets")


def reopened(app: App) -> App:
    """A new App opened on ``app``'s link, as a fresh page is."""
    return App(link=app.link.query)


@pytest.mark.parametrize("cls", PANELS, ids=lambda cls: cls.key)
def test_no_setting_takes_a_name_links_reserve(cls: Any) -> None:
    panel = cls()
    assert not set(panel.state) & set(RESERVED)


@pytest.mark.parametrize(
    ("key", "settings"),
    [
        ("deep", {"depth": 7, "weight_scale": 2.0, "init": "orthogonal", "dtype": "float64"}),
        ("recurrent", {"seq_len": 60, "weight_scale": 1.01, "cell": "lstm", "gate_bias": 1.0}),
        ("spectra", {"length": 40, "weight_scale": 1.2, "activation": "tanh"}),
        ("phase", {"weight_std": 1.3, "bias_std": 0.1}),
        ("clipping", {"gradient": "3, 4", "threshold": 2.0, "right": "norm"}),
        ("cliff", {"lr": 0.3, "steps": 120, "start_w": 5.5, "fan": True}),
        ("training", {"lr": 0.05, "steps": 150, "clip_threshold": 0.5, "scenario": "adding"}),
    ],
)
def test_every_tab_reopens_from_its_link(key: str, settings: dict[str, Any]) -> None:
    """Set several controls of each tab; the App opened on the link holds the same state, shows
    the same readout and the same tab."""
    app = App(link=f"tab={key}")
    panel = app.panel(key)
    panel.set_state(settings)
    assert {name: panel.state[name] for name in settings} == settings
    again = reopened(app)
    assert again.open_key() == key
    assert again.panel(key).state == panel.state
    assert again.panel(key).readout.value == panel.readout.value
    assert again.link.query == app.link.query


@pytest.fixture(scope="module")
def cliff_apps() -> tuple[App, App]:
    """Two Apps on the cliff tab: one sets a value, the other opens its link (as a preheated
    page opens its link on an App already built). Built once: each example only refreshes."""
    return App(link="tab=cliff"), App(link="tab=cliff")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_any_float_in_range_comes_back_as_the_same_float(
    cliff_apps: tuple[App, App], data: st.DataObject
) -> None:
    """Hypothesis picks a float inside the bounds of the cliff's learning rate and start w: the
    link gives back the very float (no rounding on the way)."""
    source, opened = cliff_apps
    panel = source.panel("cliff")
    settings_ = {
        name: data.draw(st.floats(panel.bounds[name].low, panel.bounds[name].high))
        for name in ("lr", "start_w")
    }
    panel.apply_state(settings_)
    opened.open_link(source.link.query)
    for name, value in settings_.items():
        assert opened.panel("cliff").state[name] == value


def test_a_link_with_bad_values_is_clamped_or_refused_and_said() -> None:
    """Out of range: clamped; not a number, unknown names, unknown tabs: refused; each said in a
    status line; the panel computes with what was accepted."""
    app = App(link="tab=deep&depth=5000&width=abc&weight_scale=1e400&colour=red&tabs=deep,nope")
    panel = app.panel("deep")
    status = panel.status.value
    assert "5,000 is outside 1–1,000; using 1,000" in status
    assert "&#x27;abc&#x27; is not a number; kept 32" in status
    assert "1e400" in status  # too large to be a finite float: refused
    assert "There is no setting &#x27;colour&#x27; here" in status
    assert "No tab is called &#x27;nope&#x27;" in app.status.value
    assert panel.state["depth"] == 1000
    assert panel.state["width"] == 32
    assert panel.result is not None
    assert panel.result.depth == 1000
    assert app.tab_keys == ["deep"]


def test_a_link_beyond_the_compute_budget_is_not_computed() -> None:
    """depth 1000 × width 256² is beyond the deep panel's budget: the status says so and the
    shown result is the one before (the link's values are not computed)."""
    app = App(link="tab=deep&depth=1000&width=256")
    panel = app.panel("deep")
    assert "compute budget" in panel.status.value
    assert panel.result is None or panel.result.width != 256


@pytest.mark.parametrize(
    "query",
    [
        "x" * 5000,
        "tab=" + "%" * 30,
        "tab=deep&tab=recurrent&tab=%00",
        "projector=maybe",
        "hide=" + ",".join(f"n{i}" for i in range(500)),
        "tabs=,,,",
        "&&&=&=",
    ],
)
def test_malformed_links_never_raise_and_leave_a_working_app(query: str) -> None:
    app = App(link=query)
    panel = app.open_panel()
    assert panel.result is not None  # the open tab computed
    assert app.link.query.startswith("tab=")


def test_parse_link_notes_what_it_could_not_read() -> None:
    assert "characters long" in parse_link("a=" + "1" * 4001).notes[0]
    assert "twice" in parse_link("depth=1&depth=2").notes[0]
    assert parse_link("depth=1&depth=2").settings == {"depth": "2"}
    assert "not 0 or 1" in parse_link("projector=maybe").notes[0]
    assert not parse_link("projector=maybe").lesson.projector


def test_a_lesson_link_shows_its_tabs_and_hides_its_controls() -> None:
    """``hide=seed`` hides the seed in every tab (those built later too), ``recurrent.dtype``
    only in the recurrent tab, ``preset`` the preset menu; hidden values are still set."""
    app = App(
        link="tab=recurrent&dtype=float64&tabs=deep,recurrent&hide=seed,recurrent.dtype,preset"
    )
    recurrent = app.panel("recurrent")
    assert app.tab_keys == ["deep", "recurrent"]
    assert list(app.tabs.titles) == ["Deep network", "Recurrent network"]
    assert recurrent.controls["seed"].layout.display == "none"
    assert recurrent.controls["dtype"].layout.display == "none"
    assert recurrent.state["dtype"] == "float64"
    assert recurrent.preset is not None
    assert recurrent.preset.layout.display == "none"
    deep = app.panel("deep")  # built now, after the link
    assert deep.controls["seed"].layout.display == "none"
    assert deep.controls["dtype"].layout.display != "none"
    assert app.teacher.layout.display == "none"  # students get no lesson maker
    assert "hide=seed,recurrent.dtype,preset" in app.link.query  # kept as they move
    app.open_tab("phase", {})  # not part of the lesson
    assert "not part of this lesson" in app.status.value
    assert app.open_key() == "recurrent"


def test_a_preheated_app_opens_its_link_after_it_was_built() -> None:
    """A preheated kernel builds the App before its page's link arrives: opening the link then
    gives the same view as an App built on it (hidden controls included)."""
    query = "tab=deep&weight_scale=3.0&hide=seed&projector=1"
    late = App()
    late.open_link(query)
    early = App(link=query)
    assert late.panel("deep").state == early.panel("deep").state
    assert late.panel("deep").controls["seed"].layout.display == "none"
    assert late.link.query == early.link.query
    assert late.projector.value


def test_the_lesson_maker_makes_the_link_that_opens_the_lesson() -> None:
    app = App(link="tab=recurrent&weight_scale=1.01")
    app.teacher.selected_index = 0  # opened: built now
    maker = app.maker
    assert maker is not None
    for key in ("spectra", "phase", "clipping", "cliff", "training", "run"):
        maker.tab_boxes[key].value = False
    maker.hide_boxes["recurrent.seed"].value = True
    maker.projector.value = True
    lesson = App(link=maker.link.query)
    assert lesson.tab_keys == ["deep", "recurrent"]
    assert lesson.panel("recurrent").controls["seed"].layout.display == "none"
    assert lesson.panel("recurrent").state == app.panel("recurrent").state
    assert lesson.projector.value
    assert "ge-projector" in lesson._dom_classes


def test_projector_mode_zooms_each_figure_to_the_width_and_back() -> None:
    """In projector mode each figure (the Training lab's two, stacked) is drawn at the zoom that
    fills the panel's width less FIT_PADDING, at most PROJECTOR_ZOOM (the narrow per-tensor
    figure reaches that cap at 1900 px); off, each is back at its natural height."""
    app = App(link="tab=training&projector=1")
    panel = app.panel("training")
    panel.width_probe.width = 1900
    curves, tensors = panel.figures()
    css_width = curves.get_figwidth() * curves._original_dpi  # the zoom is kept to 3 decimals
    assert math.isclose(css_width, 1900 - FIT_PADDING, rel_tol=1e-3)
    assert tensors._original_dpi == DPI * PROJECTOR_ZOOM
    heights = [figure.get_figheight() * figure._original_dpi for figure in panel.figures()]
    assert app.link.query.endswith("projector=1")
    app.projector.value = False
    for figure, tall in zip(panel.figures(), heights, strict=True):
        assert figure.get_figheight() * figure._original_dpi < 0.8 * tall
    assert "projector" not in app.link.query


@pytest.mark.parametrize(
    "name", ["children", "_dom_classes", "layout", "box_style", "tooltip", "_view_module"]
)
def test_a_link_never_sets_the_panels_own_widget_traits(name: str) -> None:
    """A link naming one of the box's synced traits is an unknown setting: refused with a note,
    the trait unchanged (links go through ``apply_state``, never ipywidgets' ``set_state``)."""
    app = App(link=f"tab=deep&{name}=danger")
    panel = app.panel("deep")
    assert "There is no setting" in panel.status.value
    assert getattr(panel, name) != "danger"
    assert panel.result is not None


def test_a_link_with_a_huge_gradient_opens_and_draws() -> None:
    """g = [1e308, 1e308] (its norm overflows to inf): the clipping tab opens and draws."""
    app = App(link="tab=clipping&gradient=1e308,1e308")
    panel = app.panel("clipping")
    assert panel.result is not None
    panel.figure.canvas.draw()  # raised "cannot convert float NaN to integer" before


def test_a_refused_tab_does_not_hand_its_settings_to_another() -> None:
    """tab=deep outside tabs=spectra: the spectra tab opens at its own values (width, weight
    scale and seed are also names of the deep network's settings), and the status says so."""
    app = App(link="tab=deep&width=3&weight_scale=7.0&seed=9&tabs=spectra")
    assert app.open_key() == "spectra"
    assert app.panel("spectra").state == App(link="tab=spectra").panel("spectra").state
    assert "its settings were not applied" in app.status.value


def test_a_training_link_names_no_step_a_fresh_page_cannot_show() -> None:
    """After a run the inspect step selects one of its steps; a link opens with no run, so the
    link carries the settings only and opens with no warning."""
    app = App(link="tab=training&steps=20")
    panel = app.panel("training")

    async def run() -> None:
        panel.start()
        assert panel.task is not None
        await panel.task

    asyncio.run(run())
    panel.set_state({"step": 3})
    assert "step=" not in app.link.query
    fresh = App(link=app.link.query).panel("training")
    assert fresh.state == panel.state
    assert "outside" not in fresh.status.value


def test_typed_number_boxes_and_links_agree() -> None:
    """A value typed in a box (number.py) and the same text in a link give the same state."""
    typed = App(link="tab=deep")
    box = typed.panel("deep").controls["weight_scale"]
    assert isinstance(box, NumberSlider)
    box.type_text("2e-1")
    linked = App(link="tab=deep&weight_scale=2e-1")
    assert typed.panel("deep").state == linked.panel("deep").state
