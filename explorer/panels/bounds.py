"""The allowed values of a numeric control, enforced in Python whatever the browser sends."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorer.plots.style import format_number


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


def shown(value: Any) -> str:
    """A value as a status line writes it (what a browser sent may be of any type)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(float(value))
    return repr(value)[:40]


def outside_note(label: str, value: Any, low: float, high: float, used: Any) -> str:
    """The one message for a value clamped to its bounds."""
    return f"{label} {shown(value)} is outside {shown(low)}–{shown(high)}; using {shown(used)}."
