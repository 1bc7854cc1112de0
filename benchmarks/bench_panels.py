"""Refresh cost of the recurrent, spectra and phase-diagram panels, in milliseconds.

For each panel: the core computation alone, and the whole refresh (compute, views, redraw) of the
panel built in plain Python with the ipympl canvas, at the panel's defaults and at the edges of its
compute budget. A refresh that changes axis limits is followed by the full figure draw the browser
would ask for, and that draw is timed with it. Prints JSON.
Run: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_panels.py
(one thread per kernel is what voila.py gives each served page).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("module://ipympl.backend_nbagg")

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import time_ms

from explorer.core import jacobian_spectra, phase_diagram, rnn_gradients
from explorer.panels import PhasePanel, RNNPanel, SpectrumPanel
from explorer.panels import phase as phase_module
from explorer.panels import rnn as rnn_module
from explorer.panels import spectrum as spectrum_module


def _refresh_ms(panel, settings: dict, repeats: int) -> dict[str, float]:
    """Time panel refreshes at ``settings`` (alternating seeds so each one recomputes)."""
    panel.set_state(settings)
    panel.figure.canvas.draw()
    seeds = iter(range(1, 10_000))

    def one() -> None:
        full = panel.redrawer.full_draws
        panel.controls["seed"].value = next(seeds)
        if panel.redrawer.full_draws != full:
            panel.figure.canvas.draw()  # what the browser asks for after draw_idle

    return time_ms(one, repeats)


def _rnn_cases() -> dict[str, dict]:
    budget = rnn_module.COMPUTE_BUDGET
    cases = {"defaults (T 100, hidden 32, rnn)": {"seq_len": 100, "hidden_size": 32}}
    for cell, hidden in (
        ("rnn", 32),
        ("rnn", 48),
        ("rnn", 64),
        ("rnn", 128),
        ("lstm", 32),
        ("gru", 64),
    ):
        size = rnn_module.state_size(cell, hidden)
        steps = min(1000, budget // size**3)
        cases[f"budget edge: {cell}, T {steps}, hidden {hidden}"] = {
            "seq_len": steps,
            "hidden_size": hidden,
            "cell": cell,
        }
    return cases


def _spectrum_cases() -> dict[str, dict]:
    budget = spectrum_module.COMPUTE_BUDGET
    cases = {"defaults (deep, 100 layers, width 32)": {"length": 100, "width": 32}}
    for width in (16, 32, 48, 64):
        length = min(1000, budget // max(width, 32) ** 2)
        cases[f"budget edge: length {length}, width {width}"] = {"length": length, "width": width}
    return cases


def _phase_cases() -> dict[str, dict]:
    budget = phase_module.COMPUTE_BUDGET
    cases = {"defaults (tanh, depth 50, width 128)": {"depth": 50, "width": 128}}
    for width in (64, 128, 256):
        depth = min(200, budget // width**2)
        cases[f"budget edge: depth {depth}, width {width}"] = {"depth": depth, "width": width}
    return cases


def main() -> None:
    report: dict = {
        "benchmark": "issue 3 panels: compute and whole refresh",
        "torch_threads": torch.get_num_threads(),
        "recurrent": {},
        "spectra": {},
        "phase_diagram": {},
    }
    rnn_panel = RNNPanel()
    for name, settings in _rnn_cases().items():
        report["recurrent"][name] = {
            "compute": time_ms(lambda s=settings: rnn_gradients(**s), repeats=9),
            "refresh": _refresh_ms(rnn_panel, settings, repeats=9),
        }
    spectrum_panel = SpectrumPanel()
    for name, settings in _spectrum_cases().items():
        report["spectra"][name] = {
            "compute": time_ms(lambda s=settings: jacobian_spectra(**s), repeats=7),
            "refresh": _refresh_ms(spectrum_panel, settings, repeats=7),
        }
    phase_panel = PhasePanel()
    for name, settings in _phase_cases().items():
        report["phase_diagram"][name] = {
            "compute": time_ms(lambda s=settings: phase_diagram(**s), repeats=5),
            "refresh": _refresh_ms(phase_panel, settings, repeats=5),
        }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
