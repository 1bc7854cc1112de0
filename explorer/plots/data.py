"""What each view reads from the result it shows, as Protocols.

The views never import ``explorer.core``: each ``update`` takes one of these shapes, and the type
checker proves that the core's results (``ChainResult``, ``RNNResult``, ...) have them, where a
panel passes one to a view. Arrays are numpy arrays of any float dtype (the core keeps the dtype
it computed in).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy.typing as npt

Array = npt.NDArray[Any]  # float (or bool) values of the dtype the core computed in


class LayerData(Protocol):
    """A deep network's per-layer numbers (``DeltaView``, ``JacobianView``)."""

    @property
    def depth(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    @property
    def delta_norms(self) -> Array: ...
    @property
    def activation_norms(self) -> Array: ...
    @property
    def jacobian_norms(self) -> Array: ...
    @property
    def e2e_log10_norm(self) -> float: ...
    @property
    def log10_norm_product(self) -> float: ...
    @property
    def log10_delta_bound(self) -> Array: ...
    @property
    def log10_reference(self) -> Array | None: ...
    @property
    def overflow_layer(self) -> int | None: ...
    @property
    def overflow_pass(self) -> str | None: ...


class StepData(Protocol):
    """A recurrent network's per-step numbers (the recurrent views)."""

    @property
    def seq_len(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    @property
    def delta_norms(self) -> Array: ...
    @property
    def cell_delta_norms(self) -> Array | None: ...
    @property
    def jacobian_norms(self) -> Array: ...
    @property
    def weight_grad_contributions(self) -> Array: ...
    @property
    def dominant_step(self) -> int: ...
    @property
    def largest_singular_value(self) -> float | None: ...
    @property
    def pascanu_threshold(self) -> float | None: ...
    @property
    def log10_reference(self) -> Array | None: ...
    @property
    def overflow_step(self) -> int | None: ...
    @property
    def overflow_pass(self) -> str | None: ...
    @property
    def gradient_overflow_step(self) -> int | None: ...


class SpectrumData(Protocol):
    """One end-to-end Jacobian spectrum (``SpectrumView``)."""

    @property
    def log10_singular_values(self) -> Array: ...
    @property
    def log10_reference(self) -> float: ...
    @property
    def log10_smallest_nonzero(self) -> float: ...
    @property
    def log10_spread(self) -> float: ...
    def fraction_within(self, decades: float = 1.0) -> float: ...


class PhaseData(Protocol):
    """A measured phase diagram (``PhaseView``)."""

    @property
    def activation(self) -> str: ...
    @property
    def depth(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def weight_stds(self) -> Array: ...
    @property
    def bias_stds(self) -> Array: ...
    @property
    def log10_growth(self) -> Array: ...
    @property
    def chi_1(self) -> Array: ...


class ClipData(Protocol):
    """One clipping of a gradient (``ClipGeometryView``, ``TensorNormView``)."""

    @property
    def method(self) -> str: ...
    @property
    def threshold(self) -> float: ...
    @property
    def library_call(self) -> str: ...
    @property
    def original(self) -> tuple[Array, ...]: ...
    @property
    def grads(self) -> tuple[Array, ...]: ...
    @property
    def tensor_norms_before(self) -> Array: ...
    @property
    def tensor_norms_after(self) -> Array: ...


class SurfaceData(Protocol):
    """A loss surface over a (w, b) grid (``CliffSurfaceView``)."""

    @property
    def seq_len(self) -> int: ...
    @property
    def w(self) -> Array: ...
    @property
    def b(self) -> Array: ...
    @property
    def loss(self) -> Array: ...


class PathData(Protocol):
    """Descent paths over the surface, (runs, steps + 1, 2) (``CliffSurfaceView``)."""

    @property
    def trajectories(self) -> Array: ...


class RunData(Protocol):
    """A run's per-step losses and gradient norms (``run_curves``)."""

    @property
    def losses(self) -> Array: ...
    @property
    def grad_norms(self) -> Array: ...
    @property
    def first_nonfinite_step(self) -> int | None: ...


class HistoryData(Protocol):
    """A training run's per-step, per-tensor record (``LayerNormsView``)."""

    @property
    def steps(self) -> int: ...
    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def param_grad_norms(self) -> Array: ...


__all__ = [
    "Array",
    "ClipData",
    "HistoryData",
    "LayerData",
    "PathData",
    "PhaseData",
    "RunData",
    "SpectrumData",
    "StepData",
    "SurfaceData",
]
