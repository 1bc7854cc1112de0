"""Gradient Explorer: see why gradients explode and how clipping tames them.

``explorer.core`` computes (torch), ``explorer.plots`` draws (matplotlib), ``explorer.panels`` holds
the interactive widgets, and ``explorer.App`` puts the panels in tabs. Importing ``explorer`` or
``explorer.core`` does not import ipywidgets or matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["App", "__version__"]

if TYPE_CHECKING:
    from explorer.app import App


def __getattr__(name: str) -> Any:
    if name == "App":
        from explorer.app import App

        return App
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")
