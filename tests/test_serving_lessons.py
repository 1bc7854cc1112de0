"""The lesson pages over HTTP: ``/lessons/`` lists the five lessons, ``/lessons/<name>`` renders a
lesson notebook in its own kernel (no preheated pool for lessons), and ``/`` with a query string
still takes the app's preheated kernel (explorer/serving/lessons.py)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO
from tests.serving import fetch, kernel_id_of, voila_server, wait_for

LESSON_FILES = sorted(p.stem for p in (REPO / "notebooks" / "lessons").glob("*.ipynb"))
LINK = re.compile(r'<a class="ge-lesson-link" href="([^"]+)">([^<]+)</a>')


def test_lessons_are_pages_beside_the_preheated_app(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    env = {"EXPLORER_PREHEAT": "1", "EXPLORER_MAX_KERNELS": "4"}
    with voila_server(env=env, log_path=log) as url:
        wait_for(lambda: "is filled with 1 kernel(s)" in log.read_text(), "the app's pool filled")
        index = fetch(url + "lessons/")
        assert index.status == 200
        links = LINK.findall(index.body)
        # one link per notebook in notebooks/lessons, titled by its first heading
        assert [href for href, _ in links] == LESSON_FILES
        assert len(links) == 5
        assert links[0][1] == "Lesson 1: gradients through a deep network"
        assert index.body.count('class="ge-lesson-summary"') == 5
        assert fetch(url + "lessons").body == index.body  # redirected to the folder's slash

        lesson = fetch(url + "lessons/" + LESSON_FILES[0])
        assert lesson.status == 200
        kernel_id_of(lesson.body)  # a Voilà page with its kernel
        assert "exercise(" not in lesson.body  # code cells are not sent (strip_sources)
        assert "Lesson 1: gradients through a deep network" in lesson.body  # its markdown is
        assert "Using pre-heated kernel" not in log.read_text()  # lessons have no pool

        app = fetch(url + "?tab=deep&depth=7")
        assert app.status == 200
        assert "Using pre-heated kernel" in log.read_text()  # / still takes the app's pool

        assert fetch(url + "lessons/..%2Fvoila.py").status != 200
        assert fetch(url + "lessons/nothing_here").status != 200
    pools = re.findall(r"Kernel pool of (\S+) is filled", log.read_text())
    assert set(pools) == {"explorer.ipynb"}  # one pool, the app's, however many lessons there are
