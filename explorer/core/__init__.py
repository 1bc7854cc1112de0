"""The science of the explorer: torch and numpy only, no plotting and no widgets.

Each function maps parameters to a frozen result of numpy arrays and floats, validates its
arguments (``ValueError`` naming the argument and its allowed values) and treats inf/NaN as data.
"""

from explorer.core.chain import ChainResult, chain_gradients
from explorer.core.cliff import (
    CLIFF_METHODS,
    CliffDescent,
    CliffSurface,
    cliff_descent,
    cliff_descents,
    cliff_loss,
    cliff_surface,
)
from explorer.core.clip import METHODS, SEMANTICS, ClipResult, NonFiniteNormError, clip_gradients
from explorer.core.meanfield import PhaseResult, mean_field_chi, phase_diagram
from explorer.core.nets import ACTIVATIONS, DTYPES, INITS
from explorer.core.rnn import CELLS, RNN_INITS, RNNResult, rnn_gradients
from explorer.core.spectrum import NETWORKS, SpectrumResult, jacobian_spectra, jacobian_spectrum

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "CLIFF_METHODS",
    "DTYPES",
    "INITS",
    "METHODS",
    "NETWORKS",
    "RNN_INITS",
    "SEMANTICS",
    "ChainResult",
    "CliffDescent",
    "CliffSurface",
    "ClipResult",
    "NonFiniteNormError",
    "PhaseResult",
    "RNNResult",
    "SpectrumResult",
    "chain_gradients",
    "cliff_descent",
    "cliff_descents",
    "cliff_loss",
    "cliff_surface",
    "clip_gradients",
    "jacobian_spectra",
    "jacobian_spectrum",
    "mean_field_chi",
    "phase_diagram",
    "rnn_gradients",
]
