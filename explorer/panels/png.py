"""PNG frames for the page's canvas, encoded for speed.

Each repaint sends the browser one PNG of the figure (ipympl's "diff" frames: the changed pixels,
the others transparent black). matplotlib encodes them with Pillow's defaults, which try five row
filters per row and compress at zlib level 6: 11-19 ms per frame for a 1100 × 400 to
1200 × 590 figure, a third of a slider move's time in the kernel. Written here with no row
filter and zlib level 1, the same frames take 4-5 ms and come out about as small (a diff frame
is mostly zeros); full frames come out somewhat larger, which loopback and a school network carry
in well under a millisecond. See ``benchmarks/bench_png.py``.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

__all__ = ["encode_rgba"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
LEVEL = 1  # zlib's fastest level: the frames are mostly flat colour and zeros
RGBA_8BIT = struct.pack(">BBBBB", 8, 6, 0, 0, 0)  # bit depth, colour type RGBA, deflate, ...


def encode_rgba(pixels: npt.NDArray[np.uint8]) -> bytes:
    """``pixels`` (height, width, 4) uint8 RGBA as a PNG file: no row filter, zlib level 1.

    Any PNG decoder reads it back to exactly ``pixels``.
    """
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 4:
        raise ValueError(
            f"pixels must be (height, width, 4) uint8, got {pixels.dtype} {pixels.shape}"
        )
    height, width, _ = pixels.shape
    rows = np.zeros((height, width * 4 + 1), dtype=np.uint8)  # each row: filter byte 0, pixels
    rows[:, 1:] = pixels.reshape(height, width * 4)
    header = struct.pack(">II", width, height) + RGBA_8BIT
    return b"".join(
        (
            SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), LEVEL)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC-32 of type and body."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
