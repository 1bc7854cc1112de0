"""The tabbed app: one tab per topic panel. Displayed inline in JupyterLab or served by Voila."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from explorer.panels import ChainPanel, PhasePanel, RNNPanel, SpectrumPanel

DEEP = "Deep network"


class App(widgets.VBox):
    """Gradient Explorer: the topic panels in tabs (``panels`` holds them by name).

    A setting chosen on the phase diagram is loaded into the deep-network panel, and its tab shown.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.panels: dict[str, widgets.Widget] = {
            DEEP: ChainPanel(),
            "Recurrent network": RNNPanel(),
            "Spectra": SpectrumPanel(),
            "Phase diagram": PhasePanel(),
        }
        self.tabs = widgets.Tab(children=list(self.panels.values()), titles=list(self.panels))
        self.panels["Phase diagram"].on_choose.append(self.load_deep_network)
        self.children = [
            widgets.HTML(
                "<h2 style='margin:4px 0'>Gradient Explorer</h2>"
                "<div>Why gradients explode, and how clipping tames them."
                " Move a control: the network is recomputed with torch.</div>"
            ),
            self.tabs,
        ]

    def load_deep_network(self, setting: dict[str, Any]) -> None:
        """Set the deep-network panel to ``setting`` (control values) and show its tab."""
        self.panels[DEEP].set_values(**setting)
        self.tabs.selected_index = list(self.panels).index(DEEP)
