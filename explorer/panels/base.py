"""The panel contract: what every panel exposes, and the one refresh path they all share.

A panel is a compound widget (an ``ipywidgets.VBox``) generic in its result type ``R``:

- ``controls``: the inputs, by name; a change recomputes. ``selectors``: number controls that
  choose what of the result is shown (a layer to write out, a step to inspect, a point on a
  diagram); a change shows the same result again, with no recomputation.
- ``state``: every control's and selector's exact value, JSON-ready; ``set_state(mapping)`` takes
  such a mapping (a link, a preset, another panel) validated and clamped as values from the
  browser are, and the status line says what was refused or changed.
- ``presets``: named partial states, offered in a menu that shows which one the controls hold.
- ``refresh()``, the one path: read and validate the controls -> check the compute budget ->
  ``compute(params)`` (core) -> ``show(result)`` (views and readout) -> status line. A failure is
  written to the status line and leaves the panel and its last result as they were.

A topic panel fills in ``compute``, ``show``, ``ok_message`` and, if it has a budget, ``cost``;
optionally ``selector_bounds``, ``linked_values`` (values other controls take when one changes)
and ``disabled_reasons`` (controls that do not apply now, and why). docs/ARCHITECTURE.md follows
a slider move through this path.

Values arriving from the browser are not trusted: a client can set any widget trait, ``min`` and
``max`` included. Each numeric control has ``Bounds`` kept here in Python; a value outside them is
clamped, the widget's own bounds are restored, and the status line says so.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import ipywidgets as widgets
from ipywidgets.widgets.widget_description import DescriptionWidget
from matplotlib.figure import Figure

from explorer.panels.bounds import Bounds, outside_note
from explorer.panels.controls import CUSTOM, NO_PRESET, preset_menu
from explorer.panels.export import export_bar
from explorer.panels.figures import fit_figures, fitted, make_figure
from explorer.panels.help import describe_controls, figure_help
from explorer.panels.link import PRESET_MENU
from explorer.panels.number import NumberSlider, WidthProbe
from explorer.panels.values import JSONValue, accepted, is_choice, options_of
from explorer.plots.style import STATUS_COLOURS, format_number

__all__ = ["Bounds", "Cost", "Panel", "make_figure"]

log = logging.getLogger(__name__)

R = TypeVar("R")
# control values by name, checked against their bounds (a widget's value trait is untyped)
Params = Mapping[str, Any]
Navigate = Callable[[str, Mapping[str, object]], None]


@dataclass(frozen=True)
class Cost:
    """What one refresh at some settings costs, compared with the panel's ``budget``."""

    formula: str  # in words, with the numbers: "depth 20 × width 32²"
    units: int
    advice: str  # what to change to fit the budget: "at width 32 use depth ≤ 1074"


class Panel(widgets.VBox, Generic[R]):
    """Base of the topic panels (see the module docstring for the contract)."""

    key: ClassVar[str]  # names the panel in links and to other panels ("deep", "phase", ...)
    title: ClassVar[str]  # its tab's title
    budget: ClassVar[int | None] = None  # cost units one refresh may take (None: no limit)
    # selectors of something a state cannot bring back (a training run's step): left out of
    # ``state``, so a link does not name a step that a fresh page, with no run, cannot show
    transient: ClassVar[frozenset[str]] = frozenset()
    MIN_WIDTH, MAX_WIDTH = 200, 4000  # CSS pixels a browser may report; others are ignored

    def __init__(
        self,
        controls: Mapping[str, widgets.ValueWidget],
        bounds: Mapping[str, Bounds],
        presets: Mapping[str, Mapping[str, JSONValue]] | None = None,
        *,
        selectors: Mapping[str, NumberSlider] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.controls: dict[str, widgets.ValueWidget] = dict(controls)
        self.selectors: dict[str, NumberSlider] = dict(selectors or {})
        taken = set(self.keys) & {*self.controls, *self.selectors}
        if taken:  # set_state tells the two apart by name
            raise ValueError(f"controls may not be named after the box's synced traits: {taken}")
        self.bounds = dict(bounds)
        self.defaults = self.values()
        self.presets: dict[str, dict[str, JSONValue]] = {
            name: dict(values) for name, values in (presets or {}).items()
        }
        # the preset menu shows the preset the controls hold, "(custom)" after any other change
        self.preset = preset_menu(self.presets, self._apply_preset) if self.presets else None
        if self.preset is not None:
            self.preset.observe(self._on_preset_menu, names="value")
        self.result: R | None = None
        self.navigate: Navigate | None = None  # set by the App: open another tab with a state
        # set by the App: another tab's panel if it is built (the Training lab's last run)
        self.find: Callable[[str], Panel[Any] | None] | None = None
        self.readout = widgets.HTML(layout=widgets.Layout(margin="0 0 0 8px"))
        self.status = widgets.HTML(layout=widgets.Layout(margin="0 0 0 8px"))
        self.readout.add_class("ge-readout")  # for the browser tests, which read what is shown
        self.status.add_class("ge-status")
        self._quiet = False
        self._pending: list[str] = []  # notes for the next refresh's status line
        self._said: list[str] = []  # the notes the last shown result's status line said
        self._stale = False  # the controls hold a setting the last refresh could not show
        self._tooltips: dict[str, str | None] = {}  # of the controls disabled with a reason
        # the browser says how wide the panel is; the figures follow (see fit_width)
        self.width_probe = WidthProbe()
        self.projector = False  # projector mode: figures stacked, each zoomed to the full width
        self._hidden: set[str] = set()  # the controls a lesson hides (see ``hide``)
        self.width_probe.observe(lambda change: self.fit_width(change["new"]), names="width")
        self.observe(self._keep_width_probe, names="children")
        for control in self.controls.values():
            control.observe(self._on_control_change, names="value")
        for selector in self.selectors.values():
            selector.observe(self._on_selector_change, names="value")
        for control in [*self.controls.values(), *self.selectors.values()]:
            if isinstance(control, NumberSlider):  # typed text refused: say so, change nothing
                self.listen_to(control)
                control.observe(self._on_range_change, names=["min", "max"])

    # -- what a topic panel fills in --------------------------------------------------------
    def compute(self, params: Params) -> R:
        """The core's result for ``params`` (the controls' values, checked)."""
        raise NotImplementedError

    def show(self, result: R) -> None:
        """Put ``result`` on the views and in the readout, as the selectors choose."""
        raise NotImplementedError

    def ok_message(self, result: R) -> str:
        """The status line after ``result`` was shown."""
        del result
        return "Ready."

    def cost(self, params: Params) -> Cost:
        """What a refresh at ``params`` costs (panels with a ``budget``)."""
        raise NotImplementedError

    def snippet(self) -> str:
        """ "Copy as code": Python calling ``explorer.core`` that gives the numbers shown now."""
        raise NotImplementedError

    def selector_bounds(self, result: R) -> Mapping[str, Bounds]:
        """Each selector's allowed values for ``result``."""
        del result
        return {}

    def linked_values(self, name: str, value: Any) -> Mapping[str, JSONValue]:
        """Values other controls take when the user sets control ``name`` to ``value``."""
        del name, value
        return {}

    def disabled_reasons(self, params: Params) -> Mapping[str, str]:
        """Controls that do not apply at ``params``, each with the reason its tooltip gives after
        "off" ("in fan mode: the fan starts from a grid")."""
        del params
        return {}

    # -- the contract -----------------------------------------------------------------------
    @property
    def state(self) -> dict[str, JSONValue]:
        """Every control's and selector's exact value, by name (JSON-serialisable), but for the
        ``transient`` selectors."""
        chosen = {n: s.value for n, s in self.selectors.items() if n not in self.transient}
        return {**self.values(), **chosen}

    def set_state(self, mapping: Mapping[str, object]) -> list[str]:
        """Take the values in ``mapping`` (any subset of ``state``): each is checked as a value
        from the browser is; refused ones are kept as they were, numbers are clamped to their
        bounds, and the status line says both. One refresh follows (none for selectors alone).
        Returns the refusals (what was clamped, and a budget exceeded, are said in the status
        line). A choice that changes brings its ``linked_values``, unless the mapping names them.

        ipywidgets calls ``set_state`` too, with the box's own synced traits from the front end
        (its ``keys``, which no control is named after): those are handed to ipywidgets.
        """
        traits = {key: value for key, value in mapping.items() if key in self.keys}
        if traits:
            super().set_state(traits)
        return self.apply_state({key: v for key, v in mapping.items() if key not in self.keys})

    def apply_state(self, settings: Mapping[str, object]) -> list[str]:
        """``set_state`` for settings alone: every name is a setting (a link, a preset, another
        panel), so a name that is no control or selector, a synced trait's included, is refused
        with a note and never reaches ipywidgets."""
        if not settings:
            return []
        inputs, chosen, notes = self._checked(settings)
        said = list(notes)
        for name, value in list(inputs.items()):
            if value != self.controls[name].value:  # a change, as a choice in the page is
                for linked, linked_value in self.linked_values(name, value).items():
                    if linked not in settings:  # what the mapping names wins, refused or not
                        inputs[linked] = linked_value
        if inputs or not chosen:
            with self._silenced():
                for name, value in inputs.items():
                    self.controls[name].value = value
            self._pending.extend(notes)
            self.sync_enabled()
            if not self.refresh():  # the status says why; the selectors stay as they were
                return said
            notes = list(self._said)  # the refresh's notes, said again with the selection's
        if chosen and self.result is not None:
            with self._silenced():
                for name, value in chosen.items():
                    self.selectors[name].value = value
            self._show_selection(notes)
        return said

    def _checked(
        self, settings: Mapping[str, object]
    ) -> tuple[dict[str, JSONValue], dict[str, JSONValue], list[str]]:
        """``settings`` checked: the controls' values, the selectors' values, and the refusals."""
        inputs: dict[str, JSONValue] = {}
        chosen: dict[str, JSONValue] = {}
        notes: list[str] = []
        for name, raw in settings.items():
            control = self.controls.get(name) or self.selectors.get(name)
            if control is None:
                notes.append(f"There is no setting {name[:40]!r} here; ignored.")
                continue
            try:
                value = accepted(control, raw)
            except ValueError as error:
                notes.append(f"{_label(control, name)}: {error}; kept {control.value!r}.")
                continue
            (inputs if name in self.controls else chosen)[name] = value
        return inputs, chosen, notes

    def refresh(self) -> bool:
        """Recompute from the controls and redraw; return whether a new result was shown."""
        try:
            return self._refresh()
        finally:
            self.sync_preset_menu()

    def _refresh(self) -> bool:
        notes, self._pending = self._pending, []
        try:
            params = self.read_controls(notes)
            over = self.over_budget(params)
            if over is not None:
                self.set_status(" ".join([*notes, over]), "warning")
                self._stale = True
                return False
            result = self.compute(params)
            self._fit_selectors(result, notes=None)
            self.show(result)
        except ValueError as error:  # the core's message names the argument and its range
            self.set_status(" ".join([*notes, str(error)]), "error")
            self._stale = True
            return False
        except Exception as error:  # keep the panel usable whatever happened
            log.exception("refresh failed")
            self.set_status(f"Unexpected error: {type(error).__name__}: {error}", "error")
            self._stale = True
            return False
        self.result = result
        self._said, self._stale = notes, False
        self._say(notes, result)
        return True

    def read_controls(self, notes: list[str]) -> dict[str, Any]:
        """Control values by name: numbers clamped to their ``bounds``, a choice that is not an
        option put back to its default (each noted in ``notes``)."""
        params = {}
        for name, control in self.controls.items():
            if isinstance(control, NumberSlider):
                notes.extend(control.pop_notes())  # a typed value clamped on its way in
            if name in self.bounds:
                params[name] = self._enforce_bounds(name, control, notes)
            elif is_choice(control) and control.value not in options_of(control):
                notes.append(f"{_label(control, name)}: {control.value!r} is not an option.")
                with self._silenced():
                    control.value = self.defaults[name]
                params[name] = control.value
            else:
                params[name] = control.value
        return params

    def over_budget(self, params: Params) -> str | None:
        """A message when ``params`` would cost more than ``budget``, else None."""
        if self.budget is None:
            return None
        cost = self.cost(params)
        if cost.units <= self.budget:
            return None
        return (
            f"{cost.formula} = {cost.units:,} is beyond this panel's compute budget of"
            f" {self.budget:,} (it keeps one refresh short): {cost.advice}."
            " The plots still show the last setting."
        )

    # -- selectors: the same result, shown otherwise ----------------------------------------
    def _on_selector_change(self, change: dict[str, Any]) -> None:
        del change
        if not self._quiet:
            self._show_selection()

    def _show_selection(self, notes: list[str] | None = None) -> None:
        notes = list(notes or [])
        for selector in self.selectors.values():
            notes.extend(selector.pop_notes())
        if self.result is None:
            return
        try:
            self._fit_selectors(self.result, notes)
            self.show(self.result)
        except Exception as error:  # keep the panel usable whatever happened
            log.exception("showing a selection failed")
            self.set_status(f"Unexpected error: {type(error).__name__}: {error}", "error")
            return
        if self._stale:  # the status line says why the controls' setting is not shown
            if notes:
                self.warn(" ".join(notes))
            return
        # what was clamped, then what is shown now
        message = " ".join([*notes, self.ok_message(self.result)])
        self.set_status(message, "warning" if notes else "ok")

    def _fit_selectors(self, result: R, notes: list[str] | None) -> None:
        """Keep each selector within its bounds for ``result``: a value the user chose outside
        them is clamped and noted in ``notes``; None clamps silently (a new result's range)."""
        for name, bounds in self.selector_bounds(result).items():
            self.enforce(self.selectors[name], bounds, bounds.high, notes, name)

    # -- controls ---------------------------------------------------------------------------
    def _on_control_change(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        name = next(n for n, c in self.controls.items() if c is change["owner"])
        control = self.controls[name]
        if is_choice(control) and change["new"] not in options_of(control):
            self._refuse_choice(name, control, change["old"], change["new"])
            return
        with self._silenced():
            for linked, value in self.linked_values(name, change["new"]).items():
                self.controls[linked].value = value
        self.sync_enabled()
        self.refresh()

    def _refuse_choice(self, name: str, control: widgets.ValueWidget, old: Any, new: Any) -> None:
        """A choice that is no option (a client can send a null or forged index): the old
        choice is put back, the status line says so, and nothing is computed."""
        kept = old if old in options_of(control) else self.defaults[name]
        with self._silenced():
            control.value = kept
        self.warn(f"{_label(control, name)}: {new!r:.40} is not an option; kept {kept!r}.")

    def _on_range_change(self, change: dict[str, Any]) -> None:
        """A number control's ``min`` or ``max`` set from outside the panel (a client can set
        any synced trait): its bounds are put back at once, and the status line says so."""
        if self._quiet:
            return
        control = change["owner"]
        found = self._bounds_of(control)
        if found is None or not _tampered(control, found[1]):
            return
        name, bounds = found
        self._put_range_back(control, bounds)  # a value sent with it is clamped by its observer
        self.warn(
            f"{_label(control, name)} keeps its range {format_number(bounds.low)} to"
            f" {format_number(bounds.high)}; the change from the page was put back."
        )

    def _bounds_of(self, control: widgets.ValueWidget) -> tuple[str, Bounds] | None:
        """The name and bounds of a bounded control or of a selector (whose bounds come from
        the result shown; None before there is one)."""
        for name, candidate in self.controls.items():
            if candidate is control and name in self.bounds:
                return name, self.bounds[name]
        if self.result is not None:
            for name, bounds in self.selector_bounds(self.result).items():
                if self.selectors[name] is control:
                    return name, bounds
        return None

    def _put_range_back(self, control: widgets.ValueWidget, bounds: Bounds) -> None:
        """Set ``control``'s ``min``/``max`` to ``bounds``, silently."""
        with self._silenced():
            # widen first, so neither assignment is refused for crossing the other bound
            control.min = min(control.min, bounds.low)
            control.max = max(control.max, bounds.high)
            control.min, control.max = bounds.low, bounds.high

    def sync_enabled(self) -> None:
        """Disable the controls that do not apply now, their tooltips saying why."""
        reasons = self.disabled_reasons(self.values())
        for name, control in self.controls.items():
            reason = reasons.get(name)
            if reason is not None:
                self._tooltips.setdefault(name, control.tooltip)
                control.disabled, control.tooltip = True, f"off {reason}"
            elif name in self._tooltips:
                control.disabled, control.tooltip = False, self._tooltips.pop(name)

    def values(self) -> dict[str, Any]:
        """Every control's value now, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def _enforce_bounds(self, name: str, control: widgets.ValueWidget, notes: list[str]) -> Any:
        return self.enforce(control, self.bounds[name], self.defaults[name], notes, name)

    def enforce(
        self,
        control: widgets.ValueWidget,
        bounds: Bounds,
        default: float,
        notes: list[str] | None,
        name: str = "",
    ) -> Any:
        """``control``'s value clamped to ``bounds``; tampered widget bounds are put back, and a
        clamped value is noted in ``notes`` for the status line (None: clamped silently)."""
        value = control.value
        clamped = bounds.clamp(value, default)
        if clamped == value and not _tampered(control, bounds):
            return value
        with self._silenced():
            self._put_range_back(control, bounds)
            control.value = clamped
        if clamped != value and notes is not None:
            notes.append(
                outside_note(_label(control, name), value, bounds.low, bounds.high, clamped)
            )
        return clamped

    # -- presets ----------------------------------------------------------------------------
    def _apply_preset(self, values: Mapping[str, JSONValue]) -> None:
        if not self._quiet:  # not when the menu is only being synced to the controls
            self.apply_state(values)

    def _on_preset_menu(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"] not in self.presets:  # "(custom)" picked by hand
            self.sync_preset_menu()

    def matching_preset(self) -> str | None:
        """The name of a preset whose every value the controls hold now (the chosen one first)."""
        current = self.values()
        chosen = self.preset.value if self.preset is not None else None
        for name in sorted(self.presets, key=lambda name: name != chosen):
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

    # -- the layout every panel shares -------------------------------------------------------
    def lay_out(
        self,
        intro: str,
        columns: Sequence[Sequence[widgets.Widget]],
        *,
        actions: Sequence[widgets.Widget] = (),
        below_figures: Sequence[widgets.Widget] = (),
        beside_readout: Sequence[widgets.Widget] = (),
    ) -> None:
        """intro; the preset menu atop the control columns; actions; status (just above the
        figures, where the eye is); the figures side by side; the readout."""
        describe_controls(self)  # tooltips: what each control is, and its range
        first, *rest = [list(column) for column in columns]
        if self.preset is not None:
            first.insert(0, self.preset)
        canvases = [figure.canvas for figure in self.figures()]
        intro_html = widgets.HTML(intro)
        intro_html.add_class("ge-chrome")  # hidden in projector mode
        figure_row = widgets.HBox(canvases)
        figure_row.add_class("ge-figures")  # stacked in projector mode
        self.children = [
            intro_html,
            widgets.HBox([widgets.VBox(column) for column in (first, *rest)]),
            *([widgets.HBox(list(actions))] if actions else []),
            self.status,
            canvases[0] if len(canvases) == 1 else figure_row,
            *below_figures,
            *figure_help(self),
            *export_bar(self),
            widgets.HBox([self.readout, *beside_readout]) if beside_readout else self.readout,
        ]
        self.sync_enabled()

    # -- the page's width --------------------------------------------------------------------
    def figures(self) -> list[Figure]:
        """The panel's figures, side by side in that order (a panel with two overrides this)."""
        figure = getattr(self, "figure", None)
        return [figure] if isinstance(figure, Figure) else []

    def fit_width(self, width_px: object) -> None:
        """Fit the figures to ``width_px``, the panel's width in the page (from the browser: a
        non-number or a width outside MIN_WIDTH..MAX_WIDTH is ignored)."""
        if isinstance(width_px, bool) or not isinstance(width_px, int | float):
            return
        if not self.MIN_WIDTH <= width_px <= self.MAX_WIDTH:
            return
        figures = fitted(self.figures())
        if figures:
            fit_figures(figures, float(width_px), projector=self.projector)

    def set_projector(self, on: bool) -> None:
        """Projector mode on or off: the figures refit to the panel's last reported width."""
        self.projector = on
        self.fit_width(self.width_probe.width)

    def hide(self, names: Iterable[str]) -> list[str]:
        """Hide from the page the controls and selectors named (``preset``: the preset menu), and
        show again those an earlier call hid; they keep their values, which a link may still set.
        Returns the names not found."""
        by_name: dict[str, widgets.DOMWidget] = {**self.controls, **self.selectors}
        if self.preset is not None:
            by_name[PRESET_MENU] = self.preset
        wanted = set(names)
        for name in self._hidden - wanted:
            by_name[name].layout.display = None
        for name in wanted & by_name.keys():
            by_name[name].layout.display = "none"
        self._hidden = wanted & by_name.keys()
        return sorted(wanted - by_name.keys())

    def on_state_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever a control's or selector's value changes."""
        for control in [*self.controls.values(), *self.selectors.values()]:
            control.observe(lambda change: callback(), names="value")

    def _keep_width_probe(self, change: dict[str, Any]) -> None:
        if self.width_probe not in change["new"]:
            self.children = [*change["new"], self.width_probe]
            return
        fill_tooltips(self)

    # -- helpers ----------------------------------------------------------------------------
    def set_status(self, message: str, level: str = "ok") -> None:
        self.status.value = status_html(message, level)

    def warn(self, message: str) -> None:
        """Say ``message`` in the status line as a warning."""
        self.set_status(message, "warning")

    def _say(self, notes: list[str], result: R) -> None:
        if notes:
            self.warn(" ".join(notes))
        else:
            self.set_status(self.ok_message(result))

    def listen_to(self, control: NumberSlider) -> None:
        """Show ``control``'s messages (typed text refused or clamped) in the status line."""
        control.on_note(self.warn)

    def open_in(self, key: str, state: Mapping[str, object]) -> None:
        """Ask the App to open tab ``key`` with ``state`` (nothing happens outside an App)."""
        if self.navigate is not None:
            self.navigate(key, state)

    @contextmanager
    def _silenced(self) -> Iterator[bool]:
        """Control changes inside do not refresh; yields whether the panel was already silent."""
        was_quiet, self._quiet = self._quiet, True
        try:
            yield was_quiet
        finally:
            self._quiet = was_quiet


def status_html(message: str, level: str = "ok") -> str:
    """A status line: ``message``, escaped, in the colour of ``level`` (see STATUS_COLOURS)."""
    colour = STATUS_COLOURS[level]
    return f'<span role="status" style="color:{colour}">{html.escape(message)}</span>'


def _tampered(control: widgets.ValueWidget, bounds: Bounds) -> bool:
    """Whether ``control``'s own ``min``/``max`` differ from ``bounds`` (a client set them)."""
    return not all(
        math.isclose(shown, wanted, rel_tol=1e-9, abs_tol=1e-12)
        for shown, wanted in ((control.min, bounds.low), (control.max, bounds.high))
    )


def _label(control: widgets.ValueWidget, name: str) -> str:
    return str(getattr(control, "description", "") or name)


def fill_tooltips(root: widgets.Widget) -> None:
    """Give every described widget under ``root`` a tooltip: its description, or "" (ipywidgets
    writes a missing tooltip into the page as the label's title "null")."""
    if isinstance(root, DescriptionWidget) and root.tooltip is None:
        root.tooltip = root.description or ""
    for child in getattr(root, "children", ()):
        if isinstance(child, widgets.Widget):
            fill_tooltips(child)
