"""Panels: one compound ipywidget per topic, owning its controls, figure and latest result."""

from explorer.panels.base import Bounds, Panel
from explorer.panels.chain import ChainPanel
from explorer.panels.cliff import CliffPanel
from explorer.panels.clip import ClipPanel
from explorer.panels.phase import PhasePanel
from explorer.panels.rnn import RNNPanel
from explorer.panels.run import RunPanel
from explorer.panels.spectrum import SpectrumPanel
from explorer.panels.train import TrainingPanel

__all__ = [
    "Bounds",
    "ChainPanel",
    "CliffPanel",
    "ClipPanel",
    "Panel",
    "PhasePanel",
    "RNNPanel",
    "RunPanel",
    "SpectrumPanel",
    "TrainingPanel",
]
