"""The export bar in the served page (Voilà + Chromium): every tab's files download and hold what
the figure shows, and "Copy as code", run, gives the numbers on screen.

One page serves the whole module (a page costs seconds). For each tab a control is set, then
each figure's PNG, SVG and CSV are caught as downloads: the PNG decodes at twice the canvas's
size in the page, the SVG parses and holds the axes' titles, and the CSV equals the columns of a
panel built in this process at the same settings (explorer.plots.table reads them from its
figure, computed by the core). The snippet is read from the page's box, run in a fresh
interpreter with one thread (as the served kernels compute), and its numbers, written as the
readout writes numbers, are found in the page's readout.
"""

from __future__ import annotations

import csv
import io
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.panels import (
    ChainPanel,
    CliffPanel,
    ClipPanel,
    Panel,
    PhasePanel,
    RNNPanel,
    SpectrumPanel,
    TrainingPanel,
)
from explorer.panels.written import four_digits
from explorer.plots.spectrum import decades
from explorer.plots.style import format_number
from explorer.plots.table import columns_csv, figure_columns
from tests.serving import VISIBLE_READOUT_JS, enter_value, open_app, open_tab
from tests.snippets import run_snippet

# the reference panels built here are closed afterwards (tests.conftest.close_new_widgets)
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("close_new_widgets")]

# each visible figure's canvas, as the page shows it (CSS pixels)
CANVAS_SIZES_JS = """() => [...document.querySelectorAll('.jupyter-matplotlib-canvas-div')]
  .filter(d => d.offsetParent !== null)
  .map(d => { const r = d.querySelector('canvas').getBoundingClientRect();
              return [r.width, r.height]; })"""


# the visible panel's status line (its class: other parts of the page have a role=status too)
PANEL_STATUS_JS = """() => ([...document.querySelectorAll('.ge-status')]
  .find(s => s.offsetParent !== null) || {textContent: ''}).textContent"""


def wait_for_status(page: Any, text: str, timeout_ms: int = 20_000) -> None:
    """Wait until the visible panel's status line contains ``text``."""
    page.wait_for_function(f"({PANEL_STATUS_JS})().includes({text!r})", timeout=timeout_ms)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """The served kernels compute with one thread (voila.py); so do the reference panels here."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def page(server: str, browser: Any) -> Iterator[Any]:
    """The app, opened once for the module."""
    opened = open_app(browser, server)
    yield opened
    opened.close()


def _train(page: Any, reference: Panel[Any]) -> None:
    enter_value(page, "steps", "10")
    page.locator("button:has-text('Start') >> visible=true").click()
    wait_for_status(page, "Done:", timeout_ms=60_000)
    reference.set_state({"steps": 10})
    assert isinstance(reference, TrainingPanel)
    assert reference.start()  # no event loop here: trains to the end


def _setting(label: str, text: str, name: str, value: Any, status: str) -> Callable[..., None]:
    """Type ``text`` into number box ``label`` in the page and set ``name`` on the reference."""

    def apply(page: Any, reference: Panel[Any]) -> None:
        enter_value(page, label, text)
        wait_for_status(page, status)
        reference.set_state({name: value})

    return apply


def _numbers_deep(printed: dict[str, Any]) -> list[str]:
    norms = printed["result.delta_norms"]
    return [
        format_number(printed["result.gradient_at_layer_1"]),
        format_number(printed["result.growth_ratio"]),
        *(four_digits(value) for value in norms[:5] + norms[-5:]),  # the written-out row
    ]


def _numbers_recurrent(printed: dict[str, Any]) -> list[str]:
    return [
        format_number(printed["result.gradient_at_step_0"]),
        format_number(printed["result.weight_grad_norm"]),
        format_number(printed["result.largest_singular_value"]),
    ]


def _numbers_spectra(printed: dict[str, Any]) -> list[str]:
    return [
        f"{decades(printed[f'{init}.log10_spread'])} decades" for init in ("gaussian", "orthogonal")
    ] + [f"10^{round(printed['gaussian.log10_reference'], 2) + 0.0:.2f}"]


def _numbers_phase(printed: dict[str, Any]) -> list[str]:
    return [format_number(printed["chi_1"]), format_number(printed["q_star"])]


def _numbers_clipping(printed: dict[str, Any]) -> list[str]:
    return [
        format_number(printed[f"{side}.{name}"])
        for side in ("left", "right")
        for name in ("norm_before", "norm_after")
    ] + ["[" + ", ".join(format_number(v) for v in printed["right.grads"][0]) + "]"]


def _numbers_cliff(printed: dict[str, Any]) -> list[str]:
    found = []
    for run in ("unclipped", "clipped"):
        end = printed[f"{run}.trajectories"][0][-1]
        found.append(f"({format_number(end[0])}, {format_number(end[1])})")
        found.append(f"loss {format_number(printed[f'{run}.losses'][0][-1])}")
    return found


def _numbers_training(printed: dict[str, Any]) -> list[str]:
    found = []
    for run in ("unclipped", "clipped"):
        found.append(f"first ‖∇L‖ {format_number(printed[f'{run}.grad_norms'][0])}")
        step = printed[f"{run}.first_nonfinite_step"]
        found.append(f"non-finite at step {step}" if step is not None else "completed 10 steps")
    found.append(f"clipped on {printed['clipped.clip_count']} steps")
    return found


TABS: dict[str, tuple[type[Panel[Any]], Callable[..., None], Callable[..., list[str]]]] = {
    "Deep network": (
        ChainPanel,
        _setting("depth L", "7", "depth", 7, "Computed 7 layers"),
        _numbers_deep,
    ),
    "Recurrent network": (
        RNNPanel,
        _setting("sequence T", "40", "seq_len", 40, "Computed 40 steps"),
        _numbers_recurrent,
    ),
    "Spectra": (
        SpectrumPanel,
        _setting("depth / steps", "30", "length", 30, "over 30 layers"),
        _numbers_spectra,
    ),
    "Phase diagram": (
        PhasePanel,
        _setting("depth", "20", "depth", 20, "of 20 layers"),
        _numbers_phase,
    ),
    "Clipping": (
        ClipPanel,
        _setting("threshold", "3", "threshold", 3.0, "Clipped with"),
        _numbers_clipping,
    ),
    "The cliff": (
        CliffPanel,
        _setting("steps", "60", "steps", 60, "Ran 1 unclipped"),
        _numbers_cliff,
    ),
    "Training lab": (TrainingPanel, _train, _numbers_training),
}


def settled_sizes(page: Any, timeout_s: float = 20) -> list[list[float]]:
    """The figures' sizes in the page once the page has stopped fitting them to its width (the
    width probe reports a new width after a tab is shown; the kernel then refits)."""
    deadline = time.monotonic() + timeout_s
    sizes = page.evaluate(CANVAS_SIZES_JS)
    while time.monotonic() < deadline:
        page.wait_for_timeout(800)
        again = page.evaluate(CANVAS_SIZES_JS)
        if again == sizes:
            return sizes
        sizes = again
    raise AssertionError(f"the figures kept changing size: {sizes}")


def download(page: Any, figure: int, kind: str) -> tuple[str, bytes]:
    """Click ``kind`` of the visible export bar's figure ``figure``; the file saved."""
    row = page.locator(f".ge-export-row[data-figure='{figure}'] >> visible=true")
    with page.expect_download(timeout=60_000) as caught:
        row.locator(f"button[data-kind='{kind}']").click()
    saved = caught.value
    path = saved.path()
    assert path is not None, saved.failure()
    with open(path, "rb") as file:
        return saved.suggested_filename, file.read()


def read_columns(data: bytes) -> dict[str, list[str]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    return {name: [row[i] for row in rows[1:] if row[i] != ""] for i, name in enumerate(rows[0])}


@pytest.mark.parametrize("tab", list(TABS))
def test_every_tab_exports_its_figures_and_its_code(page: Any, tab: str) -> None:
    """PNG at twice the size shown, SVG with the axes' titles, CSV equal to a reference panel's
    columns, for each figure of ``tab``; then the copied code's numbers are on screen."""
    panel_class, settle, numbers_of = TABS[tab]
    open_tab(page, tab)
    reference = panel_class()
    settle(page, reference)
    slug = tab.lower().replace(" ", "-")
    for index, figure in enumerate(reference.figures()):
        sizes = settled_sizes(page)
        name, data = download(page, index, "png")
        assert name.startswith(slug)
        assert name.endswith(".png")
        image = Image.open(io.BytesIO(data))
        image.load()
        width, height = sizes[index]
        assert page.evaluate(CANVAS_SIZES_JS) == sizes  # no refit meanwhile
        assert abs(image.size[0] - 2 * width) <= 1.5, (image.size, width)
        assert abs(image.size[1] - 2 * height) <= 1.5, (image.size, height)

        name, data = download(page, index, "svg")
        assert name.endswith(".svg")
        root = ET.fromstring(data)
        texts = " | ".join(" ".join("".join(t.itertext()).split()) for t in root.iter())
        for ax in figure.axes:
            title = ax.get_title(loc="left") or ax.get_title()
            if ax.get_visible() and title:
                assert " ".join(title.split()) in texts, title

        name, data = download(page, index, "csv")
        assert name.endswith(".csv")
        shown = read_columns(data)
        expected = read_columns(columns_csv(figure_columns(figure)).encode("utf-8"))
        assert list(shown) == list(expected)
        assert len(shown) >= 2
        for column, values in expected.items():
            got = shown[column]
            if values and values[0][:1].isalpha() and values[0] not in ("inf", "nan"):
                assert got == values, column  # names of bars
            else:
                assert np.array_equal(
                    np.array(got, dtype=float), np.array(values, dtype=float), equal_nan=True
                ), column

    page.locator(".ge-export button[data-kind='code'] >> visible=true").click()
    box = page.locator(".ge-export-snippet >> visible=true")
    box.wait_for(timeout=30_000)
    code = box.input_value()
    assert code == reference.snippet()  # the page's snippet, at the page's settings
    printed = run_snippet(code, one_thread=True)
    readout = page.evaluate(VISIBLE_READOUT_JS)
    for number in numbers_of(printed):
        assert number in readout, (number, readout)
    page.locator(".ge-export button:text-is('Copy') >> visible=true").click()
    copied = re.compile(r"^(Copied the code\.|Select the code and press Ctrl\+C to copy it\.)$")
    page.locator(".ge-export-said >> visible=true", has_text=copied).wait_for(timeout=10_000)
    page.locator(".ge-export button:text-is('Hide') >> visible=true").click()
    box.wait_for(state="hidden", timeout=10_000)
