"""``explorer-serve``: Voilà with the explorer's page handler and templates.

Voilà wires its page handler into its routes itself, so the page handler (admission, the class
full page, failures said clearly) needs this subclass; everything that Voilà reads as
configuration (the kernel manager, the websocket frame checks, the timeouts) is set in voila.py,
which this app reads like ``voila`` does (from the folder it is started in).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traitlets import Float, Integer, Unicode
from voila.app import Voila  # type: ignore[import-untyped]
from voila.tornado.handler import TornadoVoilaHandler  # type: ignore[import-untyped]

from explorer.serving.lessons import find_lessons, lesson_routes
from explorer.serving.pages import ExplorerPageHandler

TEMPLATES = Path(__file__).resolve().parent / "templates"


class ExplorerVoila(Voila):  # type: ignore[misc]
    """Voilà, serving pages through ``ExplorerPageHandler`` and the explorer's templates."""

    template_paths: list[str]  # Voilà's trait, set by setup_template_dirs

    retry_after = Integer(
        15, help="Seconds a refused page waits before it retries (Retry-After), plus up to half."
    ).tag(config=True)
    page_deadline = Float(
        300.0, help="Seconds after which a page still being prepared is declared failed."
    ).tag(config=True)
    lessons_dir = Unicode(
        "lessons",
        help="The folder of lesson notebooks, relative to the served notebook's folder: each is"
        " served at /lessons/<name>, listed at /lessons/ (no such folder: no lesson pages).",
    ).tag(config=True)

    def setup_template_dirs(self) -> None:
        """Put the explorer's templates first: its ``index.html.j2`` extends Voilà's lab one."""
        super().setup_template_dirs()
        self.template_paths = [str(TEMPLATES), *self.template_paths]

    def init_handlers(self) -> list[Any]:
        """Voilà's routes, with its page handler replaced by the explorer's, and the lesson
        pages (explorer/serving/lessons.py) placed before its catch-all route."""
        routes = [replace_page_handler(route) for route in super().init_handlers()]
        if not self.notebook_path:  # serving a folder: Voilà's own tree and render pages
            return routes
        page = next(i for i, route in enumerate(routes) if route[1] is ExplorerPageHandler)
        folder = Path(self.notebook_path).resolve().parent / self.lessons_dir
        lessons = lesson_routes(
            self.server_url, find_lessons(folder), Path(self.root_dir), routes[page]
        )
        return [*routes[:page], *lessons, *routes[page:]]


def replace_page_handler(route: Any) -> Any:
    """A route to Voilà's page handler, routed to ``ExplorerPageHandler`` instead."""
    if isinstance(route, tuple) and len(route) >= 2 and route[1] is TornadoVoilaHandler:
        return (route[0], ExplorerPageHandler, *route[2:])
    return route


def main() -> None:
    """The ``explorer-serve`` command: ``explorer-serve notebooks/explorer.ipynb``."""
    ExplorerVoila.launch_instance()
