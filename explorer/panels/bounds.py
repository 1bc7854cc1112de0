"""The allowed values of a numeric control, enforced in Python whatever the browser sends."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bounds:
    """Allowed values of a numeric control, kept in Python whatever the browser sends."""

    low: float
    high: float
    integer: bool = False

    def clamp(self, value: Any, default: float) -> float:
        """The nearest allowed value (``default`` for a non-number or NaN)."""
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            return default
        clamped = min(max(value, self.low), self.high)
        return round(clamped) if self.integer else float(clamped)
