"""The lesson pages: an index at ``/lessons/`` and each lesson notebook as its own Voilà page.

``explorer-serve notebooks/explorer.ipynb`` serves one notebook (the app at ``/``). The lesson
notebooks next to it (``lessons/*.ipynb`` beside the served notebook) get routes of their own,
placed before Voilà's catch-all route: ``/lessons/`` lists them, and ``/lessons/<name>`` (the
file's name without ``.ipynb``) renders one through the same page handler as the app, exactly as
Voilà renders a notebook in single-notebook mode (its ``notebook_path`` argument). Only the files
found at start-up are routed: no other path under ``/lessons/`` reaches a notebook.

Voilà's preheated pool is filled for the served notebook only, so a lesson page starts its own
kernel when it is opened and lessons add nothing to the memory the pool holds.

The index reads each lesson's title from the first heading of its first cell and its one-line
summary from the notebook's metadata (``"lesson": {"summary": ...}``). This module imports
neither torch nor ipywidgets.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join
from tornado import web
from voila.handler import BaseVoilaHandler  # type: ignore[import-untyped]

log = logging.getLogger(__name__)
LESSONS_PATH = "lessons"  # the index's URL path under the server's base URL
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")  # lesson file names routed (no dots, no slashes)


@dataclass(frozen=True)
class Lesson:
    """One lesson notebook: its URL name, title, one-line summary and path."""

    name: str
    title: str
    summary: str
    path: Path


def read_lesson(path: Path) -> Lesson:
    """The lesson in notebook ``path``: title from its first heading, summary from its metadata."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    title = path.stem.replace("_", " ")
    for cell in notebook.get("cells", [])[:1]:
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        heading = re.search(r"^#+\s+(.+)$", text, flags=re.MULTILINE)
        if heading:
            title = heading.group(1).strip()
    summary = notebook.get("metadata", {}).get("lesson", {}).get("summary", "")
    return Lesson(path.stem, title, str(summary), path)


def find_lessons(folder: Path) -> list[Lesson]:
    """The lesson notebooks in ``folder``, in file-name order (none if it does not exist); one
    that cannot be read is left out, with a warning in the server's log."""
    if not folder.is_dir():
        return []
    lessons = []
    for path in sorted(p for p in folder.glob("*.ipynb") if _NAME.match(p.stem)):
        try:
            lessons.append(read_lesson(path))
        except (OSError, ValueError, AttributeError) as error:  # the others are still served
            log.warning("lesson %s skipped: it could not be read (%s)", path, error)
    return lessons


class LessonIndexHandler(BaseVoilaHandler):  # type: ignore[misc]
    """``/lessons/``: a page listing the lessons, a line each, with a link to each."""

    def initialize(self, **kwargs: Any) -> None:
        self.lessons: list[Lesson] = kwargs.pop("lessons")
        super().initialize(**kwargs)

    @web.authenticated
    def get(self) -> None:
        if not self.request.path.endswith("/"):  # relative links need the folder's slash
            self.redirect(self.request.path + "/", permanent=True)
            return
        self.set_header("Cache-Control", "no-cache")
        page = self.get_template("explorer_lessons.html.j2").render(lessons=self.lessons)
        self.finish(page)


def lesson_routes(
    server_url: str, lessons: list[Lesson], root_dir: Path, page_route: tuple[Any, ...]
) -> list[tuple[Any, ...]]:
    """Routes for the index and each lesson. ``page_route`` is Voilà's route to the served
    notebook: each lesson page uses its handler and arguments, with the lesson's notebook."""
    if not lessons:
        return []
    handler, arguments = page_route[1], page_route[2]
    routes: list[tuple[Any, ...]] = [
        (
            url_path_join(server_url, rf"/{LESSONS_PATH}/?"),
            LessonIndexHandler,
            {"lessons": lessons, "voila_configuration": arguments["voila_configuration"]},
        )
    ]
    for lesson in lessons:
        notebook = str(lesson.path.resolve().relative_to(root_dir.resolve()))
        routes.append(
            (
                url_path_join(server_url, f"/{LESSONS_PATH}/{lesson.name}"),
                handler,
                {**arguments, "notebook_path": notebook},
            )
        )
    return routes
