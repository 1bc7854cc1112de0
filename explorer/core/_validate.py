"""Argument checks shared by the core functions.

Every check raises ``ValueError`` whose message names the argument and its allowed values, so a
caller (a script, a test or a panel's status line) can show it as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

# Bounds shared by the core's functions (and the panels' controls), each defined here only.
MAX_SEED = 2**32 - 1  # numpy's RandomState takes [0, 2**32 - 1]; default_rng and torch take these
MAX_THRESHOLD = 1e30  # the largest clipping threshold accepted (by clip, cliff, monitor, train)


def check_int(name: str, value: object, low: int, high: int) -> int:
    """Return ``value`` as an int if it is a whole number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value}")
    return int(value)


def check_float(
    name: str, value: object, low: float, high: float, *, low_open: bool = False
) -> float:
    """Return ``value`` as a float if it is a finite real in [low, high] (or (low, high])."""
    bracket = "(" if low_open else "["
    allowed = f"{bracket}{low:g}, {high:g}]"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a real number in {allowed}, got {value!r}")
    number = float(value)
    too_low = number <= low if low_open else number < low
    if not math.isfinite(number) or too_low or number > high:
        raise ValueError(f"{name} must be a real number in {allowed}, got {value!r}")
    return number


def check_seed(value: object) -> int:
    """Return ``value`` as an int if it is a seed in [0, MAX_SEED]."""
    return check_int("seed", value, 0, MAX_SEED)


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value
