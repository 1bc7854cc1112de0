"""What every panel shares: named controls validated in Python, one refresh path, a status line.

A panel is a compound widget (an ``ipywidgets.VBox``). Its refresh path is always the same:
read and validate the controls -> check the compute budget -> core -> views -> readout. A failure
is written to the status line and leaves the panel and its last result as they were.

Values arriving from the browser are not trusted: a client can set any widget trait, ``min`` and
``max`` included, through the widget protocol. Each numeric control has bounds kept
here in Python; a value outside them is clamped, the widget's own bounds are restored, and the
status line says so.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import ipywidgets as widgets
from ipympl.backend_nbagg import Canvas, FigureManager
from ipywidgets.widgets.widget_description import DescriptionWidget
from matplotlib.figure import Figure

from explorer.panels.bounds import Bounds, outside_note
from explorer.panels.controls import CUSTOM, NO_PRESET, preset_menu
from explorer.panels.number import NumberSlider, WidthProbe

__all__ = ["Bounds", "Panel", "make_figure"]

log = logging.getLogger(__name__)

_STATUS_COLOURS = {"ok": "#1a7f37", "warning": "#9a6700", "error": "#cf222e"}


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


class Panel(widgets.VBox):
    """Base of the topic panels: ``controls`` by name, a figure, ``result``, readout and status."""

    def __init__(
        self,
        controls: Mapping[str, widgets.ValueWidget],
        bounds: Mapping[str, Bounds],
        presets: Mapping[str, Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.controls: dict[str, widgets.ValueWidget] = dict(controls)
        self.bounds = dict(bounds)
        self.defaults = {name: control.value for name, control in self.controls.items()}
        self.presets: dict[str, dict[str, Any]] = {
            name: dict(values) for name, values in (presets or {}).items()
        }
        # the preset menu shows the preset the controls hold, "(custom)" after any other change
        self.preset = preset_menu(self.presets, self._apply_preset) if self.presets else None
        if self.preset is not None:
            self.preset.observe(self._on_preset_menu, names="value")
        self.result: Any = None
        self.readout = widgets.HTML(layout=widgets.Layout(margin="0 0 0 8px"))
        self.status = widgets.HTML(layout=widgets.Layout(margin="0 0 0 8px"))
        self.readout.add_class("ge-readout")  # for the browser tests, which read what is shown
        self.status.add_class("ge-status")
        self._quiet = False
        # the browser says how wide the panel is; the figures follow (see fit_width)
        self.width_probe = WidthProbe()
        self.width_probe.observe(lambda change: self.fit_width(change["new"]), names="width")
        self.observe(self._keep_width_probe, names="children")
        for control in self.controls.values():
            control.observe(self._on_control_change, names="value")
            if isinstance(control, NumberSlider):  # typed text refused: say so, change nothing
                self.listen_to(control)

    # -- the one refresh path ---------------------------------------------------------------
    def refresh(self) -> bool:
        """Recompute from the controls and redraw; return whether a new result was shown."""
        try:
            return self._refresh()
        finally:
            self.sync_preset_menu()

    def _refresh(self) -> bool:
        notes: list[str] = []
        try:
            params = self.read_controls(notes)
            over = self.over_budget(params)
            if over is not None:
                self.set_status(" ".join([*notes, over]), "warning")
                return False
            result = self.compute(params)
            self.show(result)
        except ValueError as error:  # the core's message names the argument and its range
            self.set_status(" ".join([*notes, str(error)]), "error")
            return False
        except Exception as error:  # keep the panel usable whatever happened
            log.exception("refresh failed")
            self.set_status(f"Unexpected error: {type(error).__name__}: {error}", "error")
            return False
        self.result = result
        self.set_status(
            " ".join(notes) if notes else self.ok_message(result), "warning" if notes else "ok"
        )
        return True

    def read_controls(self, notes: list[str]) -> dict[str, Any]:
        """Control values by name, numeric ones clamped to their ``bounds`` (noted in ``notes``)."""
        params = {}
        for name, control in self.controls.items():
            if isinstance(control, NumberSlider):
                notes.extend(control.pop_notes())  # a typed value clamped on its way in
            params[name] = control.value
            if name in self.bounds:
                params[name] = self._enforce_bounds(name, control, notes)
        return params

    # -- what a topic panel fills in --------------------------------------------------------
    compute_budget: int | None = None  # cost units one refresh may take (None: no limit)

    def over_budget(self, params: dict[str, Any]) -> str | None:
        """A message when ``params`` would cost more than ``compute_budget``, else None."""
        if self.compute_budget is None:
            return None
        what, cost = self.cost(params)
        if cost <= self.compute_budget:
            return None
        return (
            f"{what} = {cost:,} is beyond this panel's compute budget of"
            f" {self.compute_budget:,} (it keeps one refresh short): {self.budget_advice(params)}."
            " The plots still show the last setting."
        )

    def cost(self, params: dict[str, Any]) -> tuple[str, int]:
        """What a refresh at ``params`` costs, as (a formula in words, cost units)."""
        raise NotImplementedError

    def budget_advice(self, params: dict[str, Any]) -> str:
        """What to change to fit the budget."""
        raise NotImplementedError

    def compute(self, params: dict[str, Any]) -> Any:
        raise NotImplementedError

    def show(self, result: Any) -> None:
        raise NotImplementedError

    def ok_message(self, result: Any) -> str:
        del result
        return "Ready."

    # -- the page's width ----------------------------------------------------------------------
    MIN_WIDTH, MAX_WIDTH = 200, 4000  # CSS pixels a browser may report; others are ignored

    def figures(self) -> list[Figure]:
        """The panel's figures, side by side in that order (a panel with two overrides this)."""
        figure = getattr(self, "figure", None)
        return [figure] if isinstance(figure, Figure) else []

    def fit_width(self, width_px: Any) -> None:
        """Fit the figures to ``width_px``, the panel's width in the page (from the browser: a
        non-number or a width outside MIN_WIDTH..MAX_WIDTH is ignored)."""
        if isinstance(width_px, bool) or not isinstance(width_px, int | float):
            return
        if not self.MIN_WIDTH <= width_px <= self.MAX_WIDTH:
            return
        figures = [figure for figure in self.figures() if figure in _FRAMES]
        if figures:
            fit_figures(figures, float(width_px))

    def _keep_width_probe(self, change: dict[str, Any]) -> None:
        if self.width_probe not in change["new"]:
            self.children = (*change["new"], self.width_probe)
            return
        fill_tooltips(self)

    # -- helpers ----------------------------------------------------------------------------
    def set_status(self, message: str, level: str = "ok") -> None:
        colour = _STATUS_COLOURS[level]
        self.status.value = (
            f'<span role="status" style="color:{colour}">{html.escape(message)}</span>'
        )

    @contextmanager
    def _silenced(self) -> Iterator[bool]:
        """Control changes inside do not refresh; yields whether the panel was already silent."""
        was_quiet, self._quiet = self._quiet, True
        try:
            yield was_quiet
        finally:
            self._quiet = was_quiet

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Change several controls with a single refresh at the end."""
        with self._silenced() as was_quiet:
            yield
        if not was_quiet:
            self.refresh()

    def set_values(self, **values: Any) -> None:
        """Set several controls by name, then refresh once."""
        with self.hold():
            for name, value in values.items():
                self.controls[name].value = value

    def _apply_preset(self, **values: Any) -> None:
        if not self._quiet:  # not when the menu is only being synced to the controls
            self.set_values(**values)

    def _on_preset_menu(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] not in self.presets:  # "(custom)" picked by hand
            self.sync_preset_menu()

    def warn(self, message: str) -> None:
        """Say ``message`` in the status line as a warning."""
        self.set_status(message, "warning")

    def listen_to(self, control: NumberSlider) -> None:
        """Show ``control``'s messages (typed text refused or clamped) in the status line."""
        control.on_note(self.warn)

    def values(self) -> dict[str, Any]:
        """Every control's value now, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def matching_preset(self) -> str | None:
        """The name of a preset whose every value the controls hold now (the chosen one first)."""
        current = self.values()
        chosen = self.preset.value if self.preset is not None else None
        names = sorted(self.presets, key=lambda name: name != chosen)
        for name in names:
            if all(current.get(key) == value for key, value in self.presets[name].items()):
                return name
        return None

    def sync_preset_menu(self) -> None:
        """Show in the preset menu what the controls hold: a preset, the start, or (custom)."""
        if self.preset is None:
            return
        shown = self.matching_preset()
        if shown is None:
            shown = NO_PRESET if self.values() == self.defaults else CUSTOM
        if self.preset.value != shown:
            with self._silenced():
                self.preset.value = shown

    def _on_control_change(self, change: dict[str, Any]) -> None:
        del change
        if not self._quiet:
            self.refresh()

    def _enforce_bounds(self, name: str, control: widgets.ValueWidget, notes: list[str]) -> Any:
        return self.enforce(control, self.bounds[name], self.defaults[name], notes, name)

    def enforce(
        self,
        control: widgets.ValueWidget,
        bounds: Bounds,
        default: float,
        notes: list[str],
        name: str = "",
    ) -> Any:
        """``control``'s value clamped to ``bounds``; tampered widget bounds are put back, and a
        clamped value is noted in ``notes`` for the status line."""
        value = control.value
        clamped = bounds.clamp(value, default)
        shown, wanted = _widget_bounds(control), _slider_bounds(control, bounds)
        tampered = (
            shown is not None
            and wanted is not None
            and not all(
                math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
                for a, b in zip(shown, wanted, strict=True)
            )
        )
        if clamped == value and not tampered:
            return value
        with self._silenced():
            _restore_widget_bounds(control, bounds)
            control.value = clamped
        if clamped != value:
            label = control.description or name
            notes.append(outside_note(label, value, bounds.low, bounds.high, clamped))
        return clamped


def fill_tooltips(root: widgets.Widget) -> None:
    """Give every described widget under ``root`` a tooltip: its description, or "" (ipywidgets
    writes a missing tooltip into the page as the label's title "null")."""
    if isinstance(root, DescriptionWidget) and root.tooltip is None:
        root.tooltip = root.description or ""
    for child in getattr(root, "children", ()):
        if isinstance(child, widgets.Widget):
            fill_tooltips(child)


def _slider_bounds(control: widgets.ValueWidget, bounds: Bounds) -> tuple[float, float] | None:
    """The (min, max) traits a control should carry for ``bounds``."""
    if hasattr(control, "min") and hasattr(control, "max"):
        return (bounds.low, bounds.high)
    return None


def _widget_bounds(control: widgets.ValueWidget) -> tuple[float, float] | None:
    if hasattr(control, "min") and hasattr(control, "max"):
        return (control.min, control.max)
    return None


def _restore_widget_bounds(control: widgets.ValueWidget, bounds: Bounds) -> None:
    wanted = _slider_bounds(control, bounds)
    if wanted is None:
        return
    low, high = wanted
    # widen first, so neither assignment is refused for crossing the other bound
    control.min = min(control.min, low)
    control.max = max(control.max, high)
    control.min, control.max = low, high
