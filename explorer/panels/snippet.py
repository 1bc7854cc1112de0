"""Writing "Copy as code": Python that calls ``explorer.core`` with a panel's exact values.

Each panel's ``snippet()`` builds its text from these pieces. Values are written so that Python
reads back the very same value (``repr`` of a float is exact; inf and NaN as ``float("inf")``),
and arrays are printed with ``.tolist()``, every element in full, never numpy's summary with
"...". Each printed line reads ``expression = value``, so a reader (or a test) knows exactly
what each number is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TypeVar

import numpy as np

__all__ = ["Code", "call", "literal", "printed", "shown", "snippet_text"]

T = TypeVar("T")


class Code(str):
    """Source written as it is, not as a string literal: a variable's name (``gradient``)."""

    __slots__ = ()


def literal(value: object) -> str:
    """``value`` as Python source that evaluates to the same value: ``1.5``, ``float("inf")``,
    ``"tanh"``, ``(6.0, -3.0)``, ``None``; ``Code`` as it is."""
    if isinstance(value, Code):
        return str(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | np.integer):
        return repr(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return repr(number) if math.isfinite(number) else f'float("{number}")'
    if isinstance(value, str):
        plain = value.isprintable() and '"' not in value and "\\" not in value
        return f'"{value}"' if plain else repr(value)
    return _sequence(value)


def _sequence(value: object) -> str:
    """A tuple or a list (an array: a list of its elements) as Python source."""
    if isinstance(value, tuple):
        items = [literal(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, list | np.ndarray):
        return "[" + ", ".join(literal(item) for item in list(value)) + "]"
    raise TypeError(f"no Python literal for a {type(value).__name__}")


def call(function: str, arguments: Mapping[str, object], *positional: object) -> str:
    """``function(positional..., name=value, ...)`` with every value written by ``literal``."""
    parts = [literal(value) for value in positional]
    parts += [f"{name}={literal(value)}" for name, value in arguments.items()]
    one_line = f"{function}({', '.join(parts)})"
    if len(one_line) <= 88:
        return one_line
    return f"{function}(\n" + "".join(f"    {part},\n" for part in parts) + ")"


def printed(expression: str, *, array: bool = False) -> str:
    """A line printing ``expression = value``: an array's every element (``.tolist()``)."""
    value = f"{expression}.tolist()" if array else expression
    return f'print("{expression} =", {value})'


def snippet_text(imports: Iterable[str], lines: Iterable[str]) -> str:
    """The snippet: its imports, a blank line, then its lines (a trailing newline)."""
    return "\n".join([*imports, "", *lines]) + "\n"


def shown(result: T | None) -> T:
    """The result a panel shows, for its snippet; a ValueError when there is none yet."""
    if result is None:
        raise ValueError("Nothing is shown yet, so there is no code to copy.")
    return result
