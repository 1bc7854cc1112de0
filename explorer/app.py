"""The tabbed app: one tab per topic panel. Displayed inline in JupyterLab or served by Voila.

The tabs come from ``PANELS``, a registry of panel classes; the App knows nothing else about them.
Only the first tab's panel is built with the App; the others are built the first time
their tab is selected, so a page (and its kernel) is ready sooner and holds only what was used.
A panel asks for another tab through ``Panel.open_in(key, state)`` (the phase diagram opens its
chosen setting in the deep network): the App builds that panel, gives it the state through
``set_state`` and shows its tab.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from typing import Any, Protocol

import ipywidgets as widgets

from explorer.panels import (
    ChainPanel,
    CliffPanel,
    ClipPanel,
    Panel,
    PhasePanel,
    RNNPanel,
    SpectrumPanel,
    TrainingPanel,
)
from explorer.panels.base import fill_tooltips
from explorer.panels.faults import Heartbeat, keep_faults_in_kernel

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
)


class App(widgets.VBox):
    """Gradient Explorer: the topic panels in tabs (``panel(key)`` gives one, built on demand)."""

    def __init__(self, panels: tuple[PanelClass, ...] = PANELS, **kwargs: Any) -> None:
        keep_faults_in_kernel()  # a client's refused message is logged, never shown to it
        super().__init__(**kwargs)
        self.classes = {cls.key: cls for cls in panels}
        self.tab_keys = list(self.classes)
        self.panels: dict[str, Panel[Any]] = {}  # the panels built so far, by key
        self._slots = {
            key: widgets.VBox([widgets.HTML("<i>Loading…</i>")]) for key in self.tab_keys
        }
        self.tabs = widgets.Tab(
            children=list(self._slots.values()), titles=[cls.title for cls in panels]
        )
        self.tabs.observe(self._on_tab, names="selected_index")
        # the page pings the kernel; unanswered, it says the connection was lost (faults.py)
        self.heartbeat = Heartbeat()
        self.children = [
            widgets.HTML(
                "<h2 style='margin:4px 0'>Gradient Explorer</h2>"
                "<div>Why gradients explode, and how clipping tames them."
                " Move a control: the network is recomputed with torch.</div>"
            ),
            self.tabs,
            self.heartbeat,
        ]
        first = self.panel(self.tab_keys[0])
        # drawn now, while the notebook runs: a preheated kernel then has the first figure's
        # pixels ready when its page asks (PanelCanvas.handle_draw sends them again)
        for figure in first.figures():
            figure.canvas.draw()
        fill_tooltips(self)

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
            self.panels[key] = panel
            self._slots[key].children = [panel]
        return self.panels[key]

    def open_tab(self, key: str, state: Mapping[str, object]) -> None:
        """Show tab ``key`` with its panel set to ``state`` (checked as links are)."""
        self.panel(key).set_state(state)
        self.tabs.selected_index = self.tab_keys.index(key)

    def _on_tab(self, change: dict[str, Any]) -> None:
        index = change["new"]
        if isinstance(index, int) and 0 <= index < len(self.tab_keys):
            try:
                self.panel(self.tab_keys[index])
            except Exception:  # the tab says so; the app and its other tabs keep working
                return
