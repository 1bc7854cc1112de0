"""Links in the served page (Voilà + Chromium): what a user sets is in the address bar and in the
copied link, and the link opened in a fresh page shows the same numbers; untrusted links are
refused with a message. (A teacher's links, projector mode and links with either kind of kernel
are in test_browser_teacher.py.)

The expected view is always the first page's own view: the test compares what two real pages
show, so it fails if a value is lost or rounded on its way through the link.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from explorer.core import chain_gradients
from explorer.plots.style import format_number
from tests.link_pages import (
    VIEW_JS,
    choose,
    clipboard_context,
    copied_link,
    open_link,
    press,
    set_text,
    settle,
)
from tests.serving import VISIBLE_READOUT_JS, VISIBLE_STATUS_JS, enter_value, open_tab

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    """A browser context whose pages may read and write the clipboard (Copy link)."""
    yield from clipboard_context(browser)


# per tab: what a user sets (as a user does it), and a value the link must then carry
SETTINGS = {
    "Deep network": (
        lambda page: (
            enter_value(page, "depth L", "7"),
            enter_value(page, "weight scale", "2"),
            choose(page, "init", "orthogonal"),
            press(page, "dtype", "float64"),
            enter_value(page, "write out layer", "3"),
        ),
        ("weight_scale", "2.0"),
    ),
    "Recurrent network": (
        lambda page: (
            enter_value(page, "sequence T", "60"),
            enter_value(page, "weight scale", "1.01"),
            choose(page, "activation", "linear"),
            enter_value(page, "write out step", "2"),
        ),
        ("weight_scale", "1.01"),
    ),
    "Spectra": (
        lambda page: (
            enter_value(page, "depth / steps", "40"),
            enter_value(page, "weight scale", "1.2"),
            choose(page, "activation", "tanh"),
        ),
        ("length", "40"),
    ),
    "Phase diagram": (
        lambda page: (
            enter_value(page, "chosen σ_w", "1.3"),
            enter_value(page, "chosen σ_b", "0.1"),
        ),
        ("weight_std", "1.3"),
    ),
    "Clipping": (
        lambda page: (
            set_text(page, "gradient", "3, 4"),
            enter_value(page, "threshold", "2"),
            choose(page, "right", "norm"),
        ),
        ("gradient", "3, 4"),
    ),
    "The cliff": (
        lambda page: (
            enter_value(page, "learning rate", "0.3"),
            enter_value(page, "steps", "120"),
            enter_value(page, "start w", "5.5"),
        ),
        ("start_w", "5.5"),
    ),
    "Training lab": (
        lambda page: (
            enter_value(page, "learning rate", "0.05"),
            enter_value(page, "steps", "150"),
            enter_value(page, "clip threshold", "0.5"),
        ),
        ("lr", "0.05"),
    ),
}


@pytest.mark.parametrize("tab", list(SETTINGS))
def test_a_copied_link_opens_the_same_view(server: str, context: Any, tab: str) -> None:
    """Set several controls in one page, copy its link, open it in a fresh page: the fresh page
    shows the same numbers, boxes and choices (the first page's view is the reference)."""
    actions, (name, text) = SETTINGS[tab]
    page = open_link(context, server)
    open_tab(page, tab)
    actions(page)
    settle(page)
    shown = page.evaluate(VIEW_JS)
    link = copied_link(page)
    assert parse_qs(urlsplit(page.url).query)[name] == [text]  # the address bar follows
    assert link == page.url
    page.close()
    fresh = open_link(context, link)
    settle(fresh)
    assert fresh.evaluate(VIEW_JS) == shown
    assert fresh.locator(".lm-TabBar-tab.lm-mod-current").inner_text() == tab
    fresh.close()


def test_a_link_with_bad_values_says_so_and_the_panel_keeps_working(
    server: str, context: Any
) -> None:
    """Out-of-range, malformed and unknown values: clamped or refused with a status message; a
    value over the compute budget is not computed; the panel then computes what is typed."""
    page = open_link(
        context,
        server + "?tab=deep&depth=5000&width=abc&weight_scale=-3&colour=red&tabs=deep,nope",
    )
    status = page.evaluate(VISIBLE_STATUS_JS)
    assert "depth L 5,000 is outside 1–1,000; using 1,000." in status
    assert "width: 'abc' is not a number; kept 32." in status
    assert "weight scale -3 is outside 0.01–100; using 0.01." in status
    assert "There is no setting 'colour' here; ignored." in status
    app_status = page.locator(".ge-app-status").inner_text()
    assert "No tab is called 'nope'" in app_status
    # the panel still works: a typed value computes the article's chain (2^4 = 16 at layer 1)
    enter_value(page, "depth L", "5")
    enter_value(page, "width", "1")
    choose(page, "init", "identity")
    choose(page, "activation", "linear")
    enter_value(page, "weight scale", "2")
    expected = chain_gradients(5, width=1, weight_scale=2.0, init="identity", activation="linear")
    # the readout of the last value typed (an earlier refresh also said "Computed 5 layers")
    shown = format_number(expected.gradient_at_layer_1)
    page.wait_for_function(f"({VISIBLE_READOUT_JS})().includes('layer 1, ‖∂L/∂a₁‖{shown}')")
    settle(page)
    assert "layer 1, ‖∂L/∂a₁‖" + shown in page.evaluate(VISIBLE_READOUT_JS)
    page.close()

    over = open_link(context, server + "?tab=deep&depth=1000&width=256")  # 6.6e7 units
    status = over.evaluate(VISIBLE_STATUS_JS)
    assert "compute budget" in status
    assert over.evaluate(VIEW_JS)["readout"]  # the last result (the defaults) still shown
    over.close()
