"""The layers: core imports neither matplotlib nor ipywidgets; plots no ipywidgets and not
explorer.core at all. Checked in a fresh interpreter, as a user's script would import them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

CHECK = """
import sys
import {module}
loaded = sorted(m for m in {forbidden} if m in sys.modules)
print(",".join(loaded))
"""


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("explorer", ("matplotlib", "ipywidgets", "torch")),
        ("explorer.core", ("matplotlib", "ipywidgets", "ipympl")),
        ("explorer.plots", ("ipywidgets", "ipympl", "explorer.core")),
    ],
)
def test_a_layer_does_not_import_the_layers_above_it(module: str, forbidden: tuple) -> None:
    code = CHECK.format(module=module, forbidden=forbidden)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"{module} imported {out.stdout.strip()}"
