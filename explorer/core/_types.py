"""The numpy array types of the core's results, named by their dtype."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IndexArray: TypeAlias = npt.NDArray[np.intp]
# float16, float32 or float64, as the caller's gradients were: the precision is open
AnyFloatArray: TypeAlias = npt.NDArray[np.floating[Any]]
