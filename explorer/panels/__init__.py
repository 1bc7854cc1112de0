"""Panels: one compound ipywidget per topic, owning its controls, figure and latest result."""

from explorer.panels.base import Bounds, Panel
from explorer.panels.chain import ChainPanel
from explorer.panels.phase import PhasePanel
from explorer.panels.rnn import RNNPanel
from explorer.panels.spectrum import SpectrumPanel

__all__ = ["Bounds", "ChainPanel", "Panel", "PhasePanel", "RNNPanel", "SpectrumPanel"]
