"""Canvas geometry for the view-layout tests: where a line is drawn, and whether a box covers it."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.transforms import Bbox


def curve_points(line: Any, samples: int = 25) -> np.ndarray:
    """Points along a line's drawn segments on the canvas (vertices and between them)."""
    xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=np.float64))
    start, stop = xy[:-1], xy[1:]
    ok = np.isfinite(start).all(axis=1) & np.isfinite(stop).all(axis=1)
    t = np.linspace(0.0, 1.0, samples)[:, None, None]
    along = start[ok] + t * (stop[ok] - start[ok])
    return np.concatenate([along.reshape(-1, 2), xy[np.isfinite(xy).all(axis=1)]])


def covers(box: Bbox, points: np.ndarray) -> bool:
    x, y = points[:, 0], points[:, 1]
    return bool(np.any((box.x0 < x) & (x < box.x1) & (box.y0 < y) & (y < box.y1)))
