"""The tabbed app: one tab per topic panel. Displayed inline in JupyterLab or served by Voila.

The tabs come from ``PANELS``, a registry of panel classes; the App knows nothing else about them.
Only the open tab's panel is built with the App; the others are built the first time their tab
is selected, so a page (and its kernel) is ready sooner and holds only what was used.
A panel asks for another tab through ``Panel.open_in(key, state)`` (the phase diagram opens its
chosen setting in the deep network): the App builds that panel, gives it the state through
``set_state`` and shows its tab.

The view is a link (``explorer.panels.link``): the open tab and its panel's ``state`` in the
page's query string, kept up to date in the address bar as the user moves. ``App.from_page()``
opens the link the page was opened with; a teacher's link also chooses the tabs shown, hides
controls and turns on projector mode.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

import ipywidgets as widgets

from explorer.panels import (
    ChainPanel,
    CliffPanel,
    ClipPanel,
    Panel,
    PhasePanel,
    RNNPanel,
    RunPanel,
    SpectrumPanel,
    TrainingPanel,
)
from explorer.panels.base import fill_tooltips, status_html
from explorer.panels.faults import Heartbeat, keep_faults_in_kernel
from explorer.panels.lesson_link import LessonLinkMaker, View
from explorer.panels.link import (
    PRESET_MENU,
    Lesson,
    PageLink,
    hidden_in,
    link_query,
    parse_link,
)
from explorer.serving.query import PREHEATED, query_string, when_requested

log = logging.getLogger(__name__)


class PanelClass(Protocol):
    """A panel class as the registry holds it: a key, a tab title, and built with no arguments."""

    @property
    def key(self) -> str: ...
    @property
    def title(self) -> str: ...
    def __call__(self) -> Panel[Any]: ...


PANELS: tuple[PanelClass, ...] = (
    ChainPanel,
    RNNPanel,
    SpectrumPanel,
    PhasePanel,
    ClipPanel,
    CliffPanel,
    TrainingPanel,
    RunPanel,
)
PROJECTOR_CLASS = "ge-projector"  # the App's CSS class in projector mode (link.css)


class App(widgets.VBox):
    """Gradient Explorer: the topic panels in tabs (``panel(key)`` gives one, built on demand).

    ``link`` is a query string to open (see ``explorer.panels.link``); ``address`` makes the page
    keep its address bar on the view shown (a page served by Voilà).
    """

    def __init__(
        self,
        panels: tuple[PanelClass, ...] = PANELS,
        *,
        link: str = "",
        address: bool = False,
        **kwargs: Any,
    ) -> None:
        keep_faults_in_kernel()  # a client's refused message is logged, never shown to it
        super().__init__(**kwargs)
        self.classes = {cls.key: cls for cls in panels}
        self.titles = {cls.key: cls.title for cls in panels}
        self.tab_keys = list(self.classes)  # the tabs shown, in order
        self.panels: dict[str, Panel[Any]] = {}  # the panels built so far, by key
        self.lesson = Lesson()
        self._slots = {
            key: widgets.VBox([widgets.HTML("<i>Loading…</i>")]) for key in self.tab_keys
        }
        self.tabs = widgets.Tab(
            children=list(self._slots.values()), titles=[cls.title for cls in panels]
        )
        self.tabs.observe(self._on_tab, names="selected_index")
        self.link = PageLink(address=address, absolute=address)
        self.link.layout.display = None if address else "none"  # no app address in a notebook
        self.projector = widgets.ToggleButton(
            description="Projector",
            icon="desktop",
            tooltip="Projector mode: large type, figures as wide as the window, no chrome",
        )
        self.projector.observe(lambda change: self.set_projector(change["new"]), names="value")
        self.status = widgets.HTML()
        self.status.add_class("ge-app-status")
        self.maker: LessonLinkMaker | None = None
        self.teacher = widgets.Accordion(
            [widgets.VBox([widgets.HTML("<i>Loading…</i>")])],
            titles=["Teacher: make a lesson link"],
            selected_index=None,
        )
        self.teacher.observe(self._on_teacher, names="selected_index")
        self.teacher.add_class("ge-chrome")
        # the page pings the kernel; unanswered, it says the connection was lost (faults.py)
        self.heartbeat = Heartbeat()
        # the lesson pages exist beside a served app (explorer-serve), not in a notebook
        lessons = " <a class='ge-lessons-link' href='lessons/' target='_blank'>Lessons</a>"
        header = widgets.HTML(
            "<h2 style='margin:4px 0'>Gradient Explorer</h2>"
            "<div>Why gradients explode, and how clipping tames them."
            " Move a control: the network is recomputed with torch."
            f"{lessons if address else ''}</div>"
        )
        header.add_class("ge-chrome")
        self.children = [
            widgets.HBox(
                [header, widgets.HBox([self.link, self.projector])],
                layout=widgets.Layout(justify_content="space-between", align_items="flex-start"),
            ),
            self.status,
            self.tabs,
            self.teacher,
            self.heartbeat,
        ]
        self.open_link(link)
        # drawn now, while the notebook runs: a preheated kernel then has the first figure's
        # pixels ready when its page asks (PanelCanvas.handle_draw sends them again)
        try:
            for figure in self.open_panel().figures():
                figure.canvas.draw()
        except Exception:  # only a warm-up: the page's own draw request says what went wrong
            log.exception("the first draw failed")
        fill_tooltips(self)

    @classmethod
    def from_page(cls, panels: tuple[PanelClass, ...] = PANELS) -> App:
        """The App for the page this kernel serves, opened on the page's link.

        A preheated kernel runs this before any page has asked for it: the App is built (and its
        first figure drawn) and returned, so that the cell ends; the page's query string is
        opened when a page takes the kernel (``when_requested``). A cell still waiting would be
        interrupted by Voilà's cell timeout, and its kernel lost to the next page.
        """
        served = "VOILA_BASE_URL" in os.environ  # set by Voilà in every kernel it starts
        if os.environ.get(PREHEATED) == "True":
            app = cls(panels, address=served)
            when_requested(app.open_link)
            return app
        return cls(panels, link=query_string(), address=served)

    # -- links ------------------------------------------------------------------------------
    def open_link(self, query: str) -> None:
        """Show the view ``query`` names: its lesson (tabs shown, controls hidden, projector),
        its tab and its panel's settings, each checked; what was refused is said."""
        link = parse_link(query)
        notes = list(link.notes)
        self.lesson = self._checked_lesson(link.lesson, notes)
        self._show_tabs(self.lesson.tabs or tuple(self.classes))
        for built_key, built in self.panels.items():  # a preheated kernel built one already
            built.hide(hidden_in(built_key, self.lesson.hide))
        self.projector.value = self.lesson.projector
        self.teacher.layout.display = "none" if self._restricted() else None
        key = link.tab if link.tab is not None else self.tab_keys[0]
        settings = link.settings
        if key not in self.tab_keys:
            first = self.titles[self.tab_keys[0]]
            ignored = "; its settings were not applied" if settings else ""
            notes.append(f"There is no tab {key[:40]!r} in this view{ignored}; showing {first}.")
            key, settings = self.tab_keys[0], {}
        try:
            panel = self.panel(key)
        except Exception:  # the tab says so; the app and its other tabs keep working
            self._say(notes)
            return
        if settings:
            panel.apply_state(settings)
        self.tabs.selected_index = self.tab_keys.index(key)
        for name in hidden_in(key, self.lesson.hide) - {*panel.controls, *panel.selectors}:
            if name != PRESET_MENU:
                notes.append(f"There is no control {name[:40]!r} to hide in {panel.title}.")
        self._say(notes)
        self.update_link()

    def _checked_lesson(self, lesson: Lesson, notes: list[str]) -> Lesson:
        """``lesson`` with unknown tab names dropped (said in ``notes``); all tabs if none is
        left."""
        if lesson.tabs is None:
            return lesson
        known = tuple(dict.fromkeys(key for key in lesson.tabs if key in self.classes))
        unknown = [key for key in lesson.tabs if key not in self.classes]
        if unknown:
            listed = ", ".join(repr(key[:40]) for key in unknown[:5])
            notes.append(f"No tab is called {listed}; the others are shown.")
        return replace(lesson, tabs=known or None)

    def _restricted(self) -> bool:
        return self.lesson.tabs is not None or bool(self.lesson.hide)

    def _show_tabs(self, keys: tuple[str, ...]) -> None:
        """Show the tabs ``keys`` (in the registry's order)."""
        shown = [key for key in self.classes if key in keys]
        if shown == self.tab_keys:
            return
        self.tab_keys = shown
        with self.tabs.hold_trait_notifications():
            self.tabs.selected_index = None
            self.tabs.children = [self._slots[key] for key in shown]
            self.tabs.titles = [self.titles[key] for key in shown]

    def open_key(self) -> str:
        """The key of the tab shown."""
        index = self.tabs.selected_index
        valid = isinstance(index, int) and 0 <= index < len(self.tab_keys)
        return self.tab_keys[index] if valid else self.tab_keys[0]

    def open_panel(self) -> Panel[Any]:
        return self.panel(self.open_key())

    def view(self) -> View:
        """The view shown: its tab's key and title, its panel's state and controls' labels."""
        key = self.open_key()
        panel = self.panels.get(key)
        if panel is None:
            return key, self.titles[key], {}, {}
        labels = {PRESET_MENU: "preset menu"} if panel.preset is not None else {}
        labels |= {
            name: str(getattr(control, "description", "") or name)
            for name, control in {**panel.controls, **panel.selectors}.items()
        }
        return key, self.titles[key], panel.state, labels

    def update_link(self) -> None:
        """Put the view shown in the page's link (and the lesson maker's, when open)."""
        key, _, state, _ = self.view()
        self.link.query = link_query(key, state, self.lesson)
        if self.maker is not None:
            self.maker.update()

    # -- panels -----------------------------------------------------------------------------
    def panel(self, key: str) -> Panel[Any]:
        """The panel of tab ``key``, built the first time it is asked for."""
        if key not in self.panels:
            try:
                panel = self.classes[key]()
            except Exception as error:  # say so in the tab rather than "Loading…" forever
                log.exception("tab %s failed to start", key)
                self._slots[key].children = [
                    widgets.HTML(
                        "<b>This tab failed to start</b>:"
                        f" {html.escape(type(error).__name__)}. The other tabs still work."
                    )
                ]
                raise
            panel.navigate = self.open_tab
            panel.find = self.panels.get
            panel.hide(hidden_in(key, self.lesson.hide))
            panel.set_projector(self.projector.value)
            panel.on_state_change(self.update_link)
            self.panels[key] = panel
            self._slots[key].children = [panel]
        return self.panels[key]

    def open_tab(self, key: str, state: Mapping[str, object]) -> None:
        """Show tab ``key`` with its panel set to ``state`` (checked as links are)."""
        if key not in self.tab_keys:
            self._say([f"The {self.titles.get(key, key)} tab is not part of this lesson."])
            return
        self.panel(key).apply_state(state)
        self.tabs.selected_index = self.tab_keys.index(key)

    def set_projector(self, on: bool) -> None:
        """Projector mode on or off: large type, figures stacked at the window's width."""
        if on:
            self.add_class(PROJECTOR_CLASS)
        else:
            self.remove_class(PROJECTOR_CLASS)
        for panel in self.panels.values():
            panel.set_projector(on)
        if on != self.lesson.projector:
            self.lesson = replace(self.lesson, projector=on)
            self.update_link()

    def _on_tab(self, change: dict[str, Any]) -> None:
        index = change["new"]
        if isinstance(index, int) and 0 <= index < len(self.tab_keys):
            try:
                self.panel(self.tab_keys[index])
            except Exception:  # the tab says so; the app and its other tabs keep working
                return
            self.update_link()

    def _on_teacher(self, change: dict[str, Any]) -> None:
        if change["new"] == 0 and self.maker is None:  # built when first opened
            tabs = [(key, self.titles[key]) for key in self.classes]
            self.maker = LessonLinkMaker(tabs, self.view, self.lesson)
            self.teacher.children = [self.maker]

    def _say(self, notes: list[str]) -> None:
        """The app's status line: what a link could not do ("" when all went well)."""
        message = " ".join(dict.fromkeys(notes))
        self.status.value = status_html(message, "warning") if message else ""
