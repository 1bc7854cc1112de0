"""Views: matplotlib only. Built once on given Axes, then ``update(result)`` mutates the artists."""

from explorer.plots.chain import DeltaView, JacobianView
from explorer.plots.cliff import CliffSurfaceView, StepCurvesView
from explorer.plots.clip import ClipGeometryView, TensorNormView
from explorer.plots.phase import PhaseView
from explorer.plots.rnn import ContributionView, StepJacobianView, TimeDeltaView
from explorer.plots.spectrum import SpectrumView
from explorer.plots.train import LayerNormsView, TrainingCurvesView

__all__ = [
    "CliffSurfaceView",
    "ClipGeometryView",
    "ContributionView",
    "DeltaView",
    "JacobianView",
    "LayerNormsView",
    "PhaseView",
    "SpectrumView",
    "StepCurvesView",
    "StepJacobianView",
    "TensorNormView",
    "TimeDeltaView",
    "TrainingCurvesView",
]
