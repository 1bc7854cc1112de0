"""A page that cannot be served says so, with a reload link, never a blank page.

Each case serves a small notebook of tests/serving_notebooks with the repository's voila.py:
a cell that raises, a cell over its time limit, a kernel whose program does not exist, and a
kernel that exits as it starts. Tracebacks stay in the server's log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.serving import Reply, fetch, voila_server

FAILED = "The explorer could not start"
RELOAD = '<a href="">Reload the page</a>'


@contextmanager
def serving(notebook: str, tmp_path: Path, **env: str) -> Iterator[str]:
    """The server for one test notebook, with test kernelspecs on its JUPYTER_PATH."""
    add_kernelspec(tmp_path, "explorer-test-broken", ["/nonexistent/explorer-test-kernel"])
    add_kernelspec(tmp_path, "explorer-test-dying", ["/bin/sh", "-c", "exit 3"])
    settings = {"EXPLORER_PREHEAT": "0", "JUPYTER_PATH": str(tmp_path / "jupyter"), **env}
    path = f"tests/serving_notebooks/{notebook}"
    with voila_server(env=settings, notebook=path, log_path=tmp_path / "server.log") as url:
        yield url


def add_kernelspec(tmp_path: Path, name: str, argv: list[str]) -> None:
    """A kernelspec whose command is ``argv`` (then the connection file)."""
    folder = tmp_path / "jupyter" / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [*argv, "{connection_file}"], "display_name": name, "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec))


def assert_failure_said(page: Reply) -> None:
    """The message and its reload link are there; the app's script, which would connect to the
    kernel, is not."""
    assert FAILED in page.body
    assert RELOAD in page.body
    assert "voila.js" not in page.body


def test_a_cell_error_is_said_without_its_traceback(tmp_path: Path) -> None:
    with serving("failing.ipynb", tmp_path) as url:
        page = fetch(url)
    assert page.status == 200  # the page was already being sent
    assert_failure_said(page)
    assert "a deliberate failure" not in page.body
    assert "a deliberate failure" in (tmp_path / "server.log").read_text()


def test_a_cell_over_its_time_limit_is_said(tmp_path: Path) -> None:
    """The cell sleeps 600 s; EXPLORER_CELL_TIMEOUT=3 stops it."""
    with serving("sleeping.ipynb", tmp_path, EXPLORER_CELL_TIMEOUT="3") as url:
        page = fetch(url)
    assert_failure_said(page)
    assert "awake" not in page.body
    assert "Timeout waiting for execute reply (3s)" in (tmp_path / "server.log").read_text()


def test_a_kernel_that_cannot_start_gets_an_error_page(tmp_path: Path) -> None:
    with serving("broken_kernel.ipynb", tmp_path) as url:
        page = fetch(url)
    assert page.status == 500
    assert_failure_said(page)
    assert page.body.lstrip().startswith("<!DOCTYPE html>")
    assert "explorer-test-kernel" not in page.body
    assert "Page could not be served" in (tmp_path / "server.log").read_text()


def test_a_kernel_that_dies_at_start_fails_the_page_instead_of_hanging(tmp_path: Path) -> None:
    """Voilà's own handler would send heartbeats forever; the page is failed at the first
    heartbeat after the kernel died (within about 10 s)."""
    with serving("dying_kernel.ipynb", tmp_path) as url:
        page = fetch(url, timeout=120)
    assert page.status == 200
    assert_failure_said(page)
    assert "died while the page was prepared" in (tmp_path / "server.log").read_text()
