"""The "Make a lesson link" panel: a teacher ticks the tabs students see and the controls they
do not, and copies a link that opens the open tab with its current values (see ``link.py``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from explorer.panels.link import Lesson, PageLink, link_query
from explorer.panels.values import JSONValue

# the view the link opens: the open tab's key, its title, its panel's state, and its controls'
# labels by name (the names ``hide`` takes; ``preset`` for the preset menu, when the panel has one)
View = tuple[str, str, Mapping[str, JSONValue], Mapping[str, str]]


class LessonLinkMaker(widgets.VBox):
    """Tabs to show and controls to hide, ticked; the lesson link, copied."""

    def __init__(
        self, tabs: Sequence[tuple[str, str]], view: Callable[[], View], lesson: Lesson
    ) -> None:
        super().__init__()
        self.view = view
        shown = set(lesson.tabs) if lesson.tabs is not None else {key for key, _ in tabs}
        self.tab_boxes = {
            key: widgets.Checkbox(value=key in shown, description=title, indent=False)
            for key, title in tabs
        }
        self.hidden = set(lesson.hide)  # "tab.name" entries, kept across tabs
        self.hide_boxes: dict[str, widgets.Checkbox] = {}
        self.hide_title = widgets.HTML()
        self.hide_row = widgets.Box(layout=widgets.Layout(flex_flow="row wrap"))
        self.projector = widgets.Checkbox(
            value=lesson.projector, description="projector mode", indent=False
        )
        self.link = PageLink(label="Copy lesson link", show_link=True, absolute=True)
        self.link.add_class("ge-lesson-link")
        for box in [*self.tab_boxes.values(), self.projector]:
            box.observe(lambda change: self.update(), names="value")
        self.children = [
            widgets.HTML(
                "Tick what students see, then copy the link: it opens the tab shown now, with"
                " its current values, on the tabs ticked and without the controls ticked below."
            ),
            widgets.HTML("<b>Tabs students see</b>"),
            widgets.Box(list(self.tab_boxes.values()), layout=widgets.Layout(flex_flow="row wrap")),
            self.hide_title,
            self.hide_row,
            self.projector,
            self.link,
        ]
        self.update()

    def update(self) -> None:
        """The hide boxes of the open tab and the link, for the view shown now."""
        key, title, state, labels = self.view()
        wanted = list(labels)
        if list(self.hide_boxes) != [f"{key}.{name}" for name in wanted]:
            self.hide_title.value = f"<b>Controls hidden in {title}</b>"
            self.hide_boxes = {}
            for name in wanted:
                entry = f"{key}.{name}"
                box = widgets.Checkbox(
                    value=entry in self.hidden,
                    description=labels[name],
                    indent=False,
                )
                box.observe(self._hide_changed(entry), names="value")
                self.hide_boxes[entry] = box
            self.hide_row.children = list(self.hide_boxes.values())
        for tab, box in self.tab_boxes.items():  # the link opens the tab shown: always in it
            box.disabled = tab == key
            if tab == key:
                box.value = True
        tabs = tuple(key for key, box in self.tab_boxes.items() if box.value)
        lesson = Lesson(
            tabs=None if len(tabs) == len(self.tab_boxes) else tabs,
            hide=tuple(sorted(self.hidden)),
            projector=self.projector.value,
        )
        self.link.query = link_query(key, state, lesson)

    def _hide_changed(self, entry: str) -> Callable[[dict[str, Any]], None]:
        def changed(change: dict[str, Any]) -> None:
            (self.hidden.add if change["new"] else self.hidden.discard)(entry)
            self.update()

        return changed
