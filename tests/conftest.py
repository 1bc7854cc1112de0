"""Test session setup: Jupyter, IPython and matplotlib keep their files inside the test run."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="explorer-tests-"))
for _name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
    os.environ[_name] = str(_HOME / _name.lower())
os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
# `make test` runs two pytest-xdist workers on a machine with about two cores: one torch thread in
# each worker and in what it starts (notebook kernels, snippets), else their OpenMP threads,
# spinning while they wait, take the cores from each other (set before torch is imported)
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib  # noqa: E402  (after MPLCONFIGDIR is set)

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parent.parent


# -- the browser tests' server and browser, one of each per browser test module ------------------
# module scope: Playwright's sync API keeps an event loop running in this thread while the
# browser is open, which would refuse the asyncio.run of later (panel) tests
@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The app served by a real Voila with the repository's voila.py."""
    from tests.serving import voila_server

    with voila_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless chromium driven by Playwright. In CI (CI=true) it must exist; elsewhere
    the browser tests skip, saying why, when it does not."""
    from tests.serving import CHROMIUM_ARGS, chromium_path

    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing in CI: `make test` installs it with apt-get")
        reason = "no chromium on this machine (make test installs Debian's chromium)"
        print(f"SKIP browser tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def close_new_widgets() -> Iterator[None]:
    """Close the widgets a test opened: ipywidgets keeps every open widget alive, and a bigger
    heap slows the garbage collector's full passes in later tests (one in a timing test reads as
    a held event loop)."""
    import gc

    from ipywidgets.widgets.widget import _instances

    before = set(_instances)
    yield
    opened = [_instances[key] for key in set(_instances) - before if key in _instances]
    for widget in opened:
        widget.close()
    if opened:
        gc.collect()
