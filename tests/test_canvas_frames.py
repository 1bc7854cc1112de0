"""The panels' canvas frames (explorer/panels/figures.py, PanelCanvas): what the page is sent
decodes, with Pillow, to exactly the pixels matplotlib's Agg renderer holds; a figure drawn
before any page connected is in the canvas's data URL, which the page paints first; a draw the
page asks for on an unchanged figure sends the same pixels without drawing again."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
from PIL import Image

from explorer.app import App
from explorer.panels import ChainPanel
from explorer.panels.figures import PanelCanvas


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _agg_pixels(canvas: Any) -> np.ndarray:
    return np.asarray(canvas.get_renderer().buffer_rgba())


def _sent_frames(canvas: Any) -> list[bytes]:
    """Record the binary frames the canvas sends over its comm from now on."""
    frames: list[bytes] = []

    def keep(content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        if json.loads(content["data"])["type"] == "binary":
            frames.append(bytes(buffers[0]) if buffers else b"")

    canvas.send = keep
    return frames


def test_the_first_figure_is_in_the_data_url_the_page_paints_first() -> None:
    app = App()
    canvas = app.panel("deep").figures()[0].canvas
    assert isinstance(canvas, PanelCanvas)
    prefix, _, encoded = canvas._data_url.partition(",")
    assert prefix == "data:image/png;base64"  # a URL the page's <img> can load
    assert np.array_equal(_pixels(base64.b64decode(encoded)), _agg_pixels(canvas))


def test_before_a_page_connects_the_frame_sent_is_the_png_not_the_raw_buffer() -> None:
    panel = ChainPanel()
    canvas = panel.figure.canvas
    frames = _sent_frames(canvas)
    canvas._force_full = True
    canvas.draw()
    assert canvas.syncing_data_url  # no page has said "initialized"
    assert len(frames) == 1
    assert frames[0].startswith(b"\x89PNG\r\n\x1a\n")
    assert np.array_equal(_pixels(frames[0]), _agg_pixels(canvas))


def test_a_draw_asked_for_an_unchanged_figure_resends_its_pixels_without_drawing() -> None:
    panel = ChainPanel()
    canvas = panel.figure.canvas
    canvas.syncing_data_url = False  # a page is there
    draws: list[object] = []
    canvas.mpl_connect("draw_event", draws.append)
    canvas.draw()
    frames = _sent_frames(canvas)
    canvas._force_full = True
    canvas.handle_draw({"type": "draw"})
    assert draws == [draws[0]]  # not drawn again
    assert len(frames) == 1
    assert np.array_equal(_pixels(frames[0]), _agg_pixels(canvas))

    shown = _pixels(frames[0])
    panel.set_state({"depth": 7})  # the data changed: the next draw the page asks for draws
    canvas.handle_draw({"type": "draw"})
    assert len(draws) == 2
    # a diff frame: the changed pixels, the rest transparent; painted over what the page shows
    diff = _pixels(frames[-1])
    painted = np.where(diff[..., 3:] > 0, diff, shown)
    assert np.array_equal(painted, _agg_pixels(canvas))
