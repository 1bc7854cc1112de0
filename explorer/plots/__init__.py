"""Views: matplotlib only. Built once on given Axes, then ``update(data)`` mutates the artists;
``data`` has the shape of a Protocol in ``explorer.plots.data`` (the views never import the
core)."""

from explorer.plots.chain import DeltaView, JacobianView
from explorer.plots.cliff import CliffSurfaceView
from explorer.plots.clip import ClipGeometryView, TensorNormView
from explorer.plots.curves import Curves, CurvesView, median_curve, run_curves
from explorer.plots.phase import PhaseView
from explorer.plots.rnn import ContributionView, StepJacobianView, TimeDeltaView
from explorer.plots.spectrum import SpectrumView
from explorer.plots.train import LayerNormsView

__all__ = [
    "CliffSurfaceView",
    "ClipGeometryView",
    "ContributionView",
    "Curves",
    "CurvesView",
    "DeltaView",
    "JacobianView",
    "LayerNormsView",
    "PhaseView",
    "SpectrumView",
    "StepJacobianView",
    "TensorNormView",
    "TimeDeltaView",
    "median_curve",
    "run_curves",
]
