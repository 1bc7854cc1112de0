"""The science of the explorer: torch and numpy only, no plotting and no widgets.

Each function maps parameters to a frozen result of numpy arrays and floats, validates its
arguments (``ValueError`` naming the argument and its allowed values) and treats inf/NaN as data.
"""

from explorer.core.chain import ChainResult, chain_gradients
from explorer.core.nets import ACTIVATIONS, DTYPES, INITS

__all__ = ["ACTIVATIONS", "DTYPES", "INITS", "ChainResult", "chain_gradients"]
