"""The code base passes ruff's checks and formatting as configured in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

RUFF = Path(sys.executable).with_name("ruff")


def test_ruff_check() -> None:
    run = subprocess.run(
        [RUFF, "check", "."], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format() -> None:
    run = subprocess.run(
        [RUFF, "format", "--check", "."], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
