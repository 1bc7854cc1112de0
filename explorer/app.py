"""The tabbed app: one tab per topic panel. Displayed inline in JupyterLab or served by Voila.

Only the first tab's panel is built when the app is shown; the others are built the first time
their tab is selected, so a page (and its kernel) is ready sooner and holds only what was used.
"""

from __future__ import annotations

from typing import Any

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

DEEP = "Deep network"
PHASE = "Phase diagram"
PANELS: dict[str, type[Panel]] = {
    DEEP: ChainPanel,
    "Recurrent network": RNNPanel,
    "Spectra": SpectrumPanel,
    PHASE: PhasePanel,
    "Clipping": ClipPanel,
    "The cliff": CliffPanel,
    "Training lab": TrainingPanel,
}


class App(widgets.VBox):
    """Gradient Explorer: the topic panels in tabs (``panel(name)`` gives one, built on demand).

    A setting chosen on the phase diagram is loaded into the deep-network panel, and its tab shown.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.panels: dict[str, Panel] = {}  # the panels built so far, by tab title
        self._slots = {name: widgets.VBox([widgets.HTML("<i>Loading…</i>")]) for name in PANELS}
        self.tabs = widgets.Tab(children=list(self._slots.values()), titles=list(PANELS))
        self.tabs.observe(self._on_tab, names="selected_index")
        self.panel(DEEP)
        self.children = [
            widgets.HTML(
                "<h2 style='margin:4px 0'>Gradient Explorer</h2>"
                "<div>Why gradients explode, and how clipping tames them."
                " Move a control: the network is recomputed with torch.</div>"
            ),
            self.tabs,
        ]
        fill_tooltips(self)

    def panel(self, name: str) -> Panel:
        """The panel of tab ``name``, built the first time it is asked for."""
        if name not in self.panels:
            try:
                panel = PANELS[name]()
            except Exception as error:  # say so in the tab rather than "Loading…" forever
                self._slots[name].children = [
                    widgets.HTML(f"<b>This tab failed to start</b>: {type(error).__name__}")
                ]
                raise
            if isinstance(panel, PhasePanel):
                panel.on_choose.append(self.load_deep_network)
            self.panels[name] = panel
            self._slots[name].children = [panel]
        return self.panels[name]

    def load_deep_network(self, setting: dict[str, Any]) -> None:
        """Set the deep-network panel to ``setting`` (control values) and show its tab."""
        self.panel(DEEP).set_values(**setting)
        self.tabs.selected_index = list(PANELS).index(DEEP)

    def _on_tab(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self.panel(list(PANELS)[change["new"]])
