"""Test session setup: Jupyter, IPython and matplotlib keep their files inside the test run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="explorer-tests-"))
for _name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
    os.environ[_name] = str(_HOME / _name.lower())
os.environ["JUPYTER_PLATFORM_DIRS"] = "1"

import matplotlib  # noqa: E402  (after MPLCONFIGDIR is set)

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parent.parent
