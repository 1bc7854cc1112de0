"""The tabbed app: one tab per topic panel. Displayed inline in JupyterLab or served by Voila."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from explorer.panels import ChainPanel


class App(widgets.VBox):
    """Gradient Explorer: the topic panels in tabs (``panels`` holds them by name)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.panels: dict[str, widgets.Widget] = {"Deep network": ChainPanel()}
        self.tabs = widgets.Tab(children=list(self.panels.values()), titles=list(self.panels))
        self.children = [
            widgets.HTML(
                "<h2 style='margin:4px 0'>Gradient Explorer</h2>"
                "<div>Why gradients explode, and how clipping tames them."
                " Move a control: the network is recomputed with torch.</div>"
            ),
            self.tabs,
        ]
