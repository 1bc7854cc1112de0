"""The science of the explorer: torch and numpy only, no plotting and no widgets.

Each function maps parameters to a frozen result of numpy arrays and floats, validates its
arguments (``ValueError`` naming the argument and its allowed values) and treats inf/NaN as data.
"""

from explorer.core.chain import ChainResult, chain_gradients
from explorer.core.meanfield import PhaseResult, mean_field_chi, phase_diagram
from explorer.core.nets import ACTIVATIONS, DTYPES, INITS
from explorer.core.rnn import CELLS, RNN_INITS, RNNResult, rnn_gradients
from explorer.core.spectrum import NETWORKS, SpectrumResult, jacobian_spectra, jacobian_spectrum

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "DTYPES",
    "INITS",
    "NETWORKS",
    "RNN_INITS",
    "ChainResult",
    "PhaseResult",
    "RNNResult",
    "SpectrumResult",
    "chain_gradients",
    "jacobian_spectra",
    "jacobian_spectrum",
    "mean_field_chi",
    "phase_diagram",
    "rnn_gradients",
]
