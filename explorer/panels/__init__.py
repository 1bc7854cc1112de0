"""Panels: one compound ipywidget per topic, owning its controls, figure and latest result."""

from explorer.panels.base import Bounds, Panel
from explorer.panels.chain import ChainPanel

__all__ = ["Bounds", "ChainPanel", "Panel"]
