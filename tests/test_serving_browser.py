"""In a real browser: a closed tab frees its kernel, and a "class full" page loads the app by
itself once a place frees.

Chromium opens the served app; the server (``explorer-serve`` with the repository's voila.py) is
asked whether the page's kernel still exists (``GET /api/kernels/<id>``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving import (
    DARK_PIXELS_JS,
    Served,
    kernel_alive,
    kernel_id_of,
    open_app,
    served_with_log,
    voila_server,
    wait_for,
)

pytestmark = pytest.mark.browser

# long enough that only the page's own shutdown request frees the kernel in the first test
GRACE_S = 10


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_with_log(
        tmp_path_factory.mktemp("browser"),
        {"EXPLORER_PREHEAT": "0", "EXPLORER_DISCONNECT_GRACE": str(GRACE_S)},
    ) as server:
        yield server


def test_leaving_the_page_shuts_its_kernel_down_by_the_pages_request(
    served: Served, browser
) -> None:
    """The student goes elsewhere (the page's beforeunload runs): the page's shutdown request
    carries the _xsrf cookie the server set, is accepted, and the kernel goes before the grace
    period would have freed it (the log has no grace shutdown for it). Headless Chromium does
    not send that request when the tab itself is closed; the next test covers that case."""
    page = open_app(browser, served.url)
    kernel = kernel_id_of(page.content())
    assert kernel_alive(served.url, kernel)
    page.goto("about:blank")
    wait_for(lambda: not kernel_alive(served.url, kernel), "the left page's kernel shut down")
    assert f"Shutting down kernel {kernel}: its page closed" not in served.log_text()
    page.close()


def test_a_closed_tab_frees_its_kernel_after_the_grace(served: Served, browser) -> None:
    """The tab is closed and no shutdown request arrives (as when a tab crashes or the network
    drops): its websocket closes, and the kernel is shut down once the grace period has passed
    without a reconnect."""
    page = open_app(browser, served.url)
    kernel = kernel_id_of(page.content())
    page.close()
    wait_for(lambda: not kernel_alive(served.url, kernel), "the gone tab's kernel shut down")
    expected = f"Shutting down kernel {kernel}: its page closed {GRACE_S} s ago"
    assert expected in served.log_text()


def test_the_class_full_page_loads_the_app_once_a_place_frees(browser, tmp_path: Path) -> None:
    """Cap 1: a second tab gets the class-full page (503), keeps retrying, and shows the app
    (its figure drawn) once the first tab is closed and its kernel freed."""
    env = {
        "EXPLORER_MAX_KERNELS": "1",
        "EXPLORER_PREHEAT": "0",
        "EXPLORER_RETRY_AFTER": "2",
        "EXPLORER_DISCONNECT_GRACE": "2",
    }
    with voila_server(env=env, log_path=tmp_path / "server.log") as url:
        first = open_app(browser, url)
        waiting = browser.new_page()
        answer = waiting.goto(f"{url}?tab=recurrent", wait_until="domcontentloaded")
        assert answer is not None
        assert answer.status == 503
        assert "The class is full: this page retries by itself in" in waiting.inner_text("body")
        first.close()
        waiting.wait_for_function(f"({DARK_PIXELS_JS})() > 2000", timeout=120_000, polling=250)
        # the retry kept the query string: the app opened the tab it names (and then wrote
        # the tab's whole state into the address, as every page does)
        assert waiting.url.startswith(f"{url}?tab=recurrent&")
        current = waiting.locator(".lm-TabBar-tab.lm-mod-current").inner_text()
        assert current == "Recurrent network"
        assert "The class is full" not in waiting.inner_text("body")
        waiting.close()
