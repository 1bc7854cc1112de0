"""Running a panel's "Copy as code" snippet as a user would: in a fresh interpreter."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from typing import Any


def run_snippet(code: str, *, one_thread: bool = False) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter of this virtualenv (with one torch thread when
    ``one_thread``, as the served kernels compute); its printed ``expression = value`` lines by
    expression."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    if one_thread:
        env |= {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    builtins = {"__builtins__": {}, "inf": math.inf, "nan": math.nan}
    printed = {}
    for line in done.stdout.splitlines():
        expression, value = line.split(" = ", 1)
        printed[expression] = eval(value, builtins)
    return printed
