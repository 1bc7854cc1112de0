"""The canvas frames' PNG encoder (explorer/panels/png.py), read back by Pillow, an independent
PNG decoder: every pixel comes back exactly, for full frames and for diff frames."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from explorer.panels.png import encode_rgba


def _decoded(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    return np.asarray(image)


@pytest.mark.parametrize("shape", [(1, 1, 4), (3, 7, 4), (400, 1100, 4)])
def test_random_pixels_come_back_exactly(shape: tuple[int, int, int]) -> None:
    pixels = np.random.default_rng(5).integers(0, 256, size=shape, dtype=np.uint8)
    assert np.array_equal(_decoded(encode_rgba(pixels)), pixels)


def test_a_diff_frame_of_mostly_transparent_black_comes_back_and_is_small() -> None:
    """A diff frame (ipympl's 'diff' image mode): the changed pixels on transparent black."""
    pixels = np.zeros((590, 1200, 4), dtype=np.uint8)
    pixels[100:140, 200:900] = (213, 94, 0, 255)  # a changed band
    png = encode_rgba(pixels)
    assert np.array_equal(_decoded(png), pixels)
    assert len(png) < pixels.nbytes / 100  # 2.8 MB of pixels; zlib keeps the zeros small


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 4), np.float64), np.zeros((4, 4), np.uint8)],
)
def test_anything_but_rgba_bytes_is_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="pixels must be"):
        encode_rgba(bad)
