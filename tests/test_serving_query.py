"""``explorer.serving.query_string()`` gives the kernel its page's query string, plain or
preheated, and importing it stays cheap (kernel side: no server, no torch)."""

from __future__ import annotations

import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.serving import fetch, voila_server, wait_for

QUERY = "tab=cliff&lr=0.5&note=a%20b"
# a stream output, as Voilà renders it into the page
PRINTED = re.compile(r'data-mime-type="text/plain">\s*<pre>(.*?)</pre>', re.S)


def printed(html: str) -> str:
    """What the served notebook printed."""
    return "".join(unescape(found) for found in PRINTED.findall(html))


@pytest.mark.parametrize("preheat", ["0", "1"], ids=["plain kernel", "preheated kernel"])
def test_the_query_string_reaches_the_kernel(tmp_path: Path, preheat: str) -> None:
    """With a pool, the GET waits until the pool kernel is ready, so the page is served by the
    kernel that ran the notebook before the request existed."""
    log = tmp_path / "server.log"
    env = {"EXPLORER_PREHEAT": preheat, "EXPLORER_MAX_KERNELS": "3"}
    notebook = "tests/serving_notebooks/query_string.ipynb"
    with voila_server(env=env, notebook=notebook, log_path=log) as url:
        if preheat == "1":
            wait_for(lambda: "is filled with 1 kernel(s)" in log.read_text(), "the pool filled")
        page = fetch(f"{url}?{QUERY}")
    assert page.status == 200
    said = printed(page.body)
    assert f"query={QUERY}\n" in said
    assert f"preheated={'True' if preheat == '1' else 'False'}\n" in said
    if preheat == "1":
        assert "Using pre-heated kernel" in log.read_text()


def test_importing_it_loads_nothing_heavy() -> None:
    """A kernel imports explorer.serving for query_string(): neither the numerical stack nor the
    server's packages come with it."""
    heavy = ("torch", "matplotlib", "ipywidgets", "tornado", "voila", "jupyter_server", "psutil")
    code = (
        "import sys\nimport explorer.serving\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == ""
