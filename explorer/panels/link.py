"""Links: the open tab and every control's exact value in the page's query string.

A view is written as ``?tab=deep&depth=20&weight_scale=1.5&…``: ``tab`` names the open tab and
every other name is a setting of its panel (``Panel.state``), floats written with ``repr`` so a
link gives back the very float. A teacher's link adds:

- ``tabs=deep,clipping``: the tabs the students see (all when absent);
- ``hide=seed,deep.dtype,preset``: controls hidden, by name in every tab or as ``tab.name`` in one
  (``preset`` is the preset menu);
- ``projector=1``: projector mode.

A link is untrusted input: ``parse_link`` refuses what it cannot read with a note, and the values
go through ``Panel.set_state``, which checks them as values from the browser are (clamped to their
bounds, a refresh beyond a panel's compute budget refused). ``PageLink`` is the page's side: it
writes the view's query string into the address bar as the user moves (``history.replaceState``,
no reload) and copies the link (``link.js``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import anywidget
import traitlets

from explorer.panels.values import JSONValue

_HERE = Path(__file__).parent
TAB, TABS, HIDE, PROJECTOR = "tab", "tabs", "hide", "projector"
RESERVED = (TAB, TABS, HIDE, PROJECTOR)  # link names no setting may take
PRESET_MENU = "preset"  # the name ``hide`` gives a panel's preset menu
MAX_QUERY = 4000  # characters; a longer query string is refused whole
MAX_NAMES = 100  # names in ``tabs`` or ``hide``
_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Lesson:
    """What a teacher's link fixes: the tabs shown (None: all), the controls hidden, projector."""

    tabs: tuple[str, ...] | None = None
    hide: tuple[str, ...] = ()
    projector: bool = False


@dataclass(frozen=True)
class Link:
    """A query string read: the open tab, its panel's settings as text, the lesson, and notes
    saying what could not be read."""

    tab: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    lesson: Lesson = Lesson()
    notes: tuple[str, ...] = ()


def parse_link(query: str) -> Link:
    """``query`` (with or without its leading "?") read as a link; never raises."""
    query = query.removeprefix("?")
    if len(query) > MAX_QUERY:
        return Link(
            notes=(
                f"The link is {len(query):,} characters long (at most {MAX_QUERY:,});"
                " it was ignored.",
            )
        )
    notes: list[str] = []
    pairs: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in pairs:
            notes.append(f"The link names {name[:40]!r} twice; the last value is used.")
        pairs[name] = value
    tab = pairs.pop(TAB, None)
    tabs = _names(pairs.pop(TABS)) if TABS in pairs else None
    hide = _names(pairs.pop(HIDE, ""))
    projector = pairs.pop(PROJECTOR, "0").strip().lower()
    if projector not in (*_ON, *_OFF):
        notes.append(f"projector={projector[:20]!r} is not 0 or 1; projector mode stays off.")
    for names in (tabs or (), hide):
        if len(names) > MAX_NAMES:
            notes.append(
                f"The link lists {len(names)} names (at most {MAX_NAMES}); the rest were ignored."
            )
    return Link(
        tab=tab,
        settings=pairs,
        lesson=Lesson(
            tabs=None if tabs is None else tabs[:MAX_NAMES],
            hide=hide[:MAX_NAMES],
            projector=projector in _ON,
        ),
        notes=tuple(notes),
    )


def link_query(tab: str, state: Mapping[str, JSONValue], lesson: Lesson = Lesson()) -> str:
    """The query string (without "?") of tab ``tab`` showing ``state``, under ``lesson``."""
    pairs: list[tuple[str, str]] = [(TAB, tab)]
    pairs += [(name, value_text(value)) for name, value in state.items()]
    if lesson.tabs is not None:
        pairs.append((TABS, ",".join(lesson.tabs)))
    if lesson.hide:
        pairs.append((HIDE, ",".join(lesson.hide)))
    if lesson.projector:
        pairs.append((PROJECTOR, "1"))
    return urlencode(pairs, safe=",")


def value_text(value: JSONValue) -> str:
    """``value`` as a link writes it: floats by ``repr`` (read back as the same float)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated list of names, blanks dropped."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def hidden_in(key: str, hide: Iterable[str]) -> set[str]:
    """The names ``hide`` hides in tab ``key``: plain names, and ``key.name`` ones."""
    names = set()
    for entry in hide:
        tab, dot, name = entry.rpartition(".")
        if not dot:
            names.add(entry)
        elif tab == key:
            names.add(name)
    return names


class PageLink(anywidget.AnyWidget):
    """The page's link: a "Copy link" button and the link itself (``link.js``).

    ``query`` is the view's query string, set by the kernel. With ``address`` set (a page served
    by Voilà), the page writes it into its address bar as it changes, so a reload or a copied
    address opens the same view. The page builds the full link from its own address.
    """

    _esm = _HERE / "link.js"
    _css = _HERE / "link.css"

    query = traitlets.Unicode("").tag(sync=True)
    address = traitlets.Bool(False).tag(sync=True)
    label = traitlets.Unicode("Copy link").tag(sync=True)
    show_link = traitlets.Bool(False).tag(sync=True)  # the link in a box beside the button
    # the full link from the page's address (a Voilà page); else the query string alone, to add
    # to the address of a served explorer (a notebook in JupyterLab has no app address)
    absolute = traitlets.Bool(False).tag(sync=True)
