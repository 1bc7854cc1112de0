"""The export bar under each panel's figures, in this process: PNG, SVG, CSV and "Copy as code".

Each request goes through the widget's own message handler (``Widget._handle_msg``, the path a
message from the page takes), and what the kernel sends back is read from the widget's comm, a
``comm.base_comm.BaseComm`` that keeps the messages it publishes (as a front end receives them).

Where the expected values come from: a PNG's size from the canvas's own size on screen (ipympl's
``get_width_height``), doubled; an SVG's text from the figure's axes; a CSV's columns from the core
(``explorer.core``) called here at the same settings; a snippet's numbers from the panel's own
result, against what the snippet prints when run in a fresh interpreter.
"""

from __future__ import annotations

import csv
import io
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from comm.base_comm import BaseComm
from PIL import Image

from explorer.core import (
    chain_gradients,
    cliff_descents,
    cliff_surface,
    clip_gradients,
    jacobian_spectra,
    mean_field_chi,
    phase_diagram,
    rnn_gradients,
    train_pair,
)
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
from explorer.panels.cliff import B_RANGE, W_RANGE
from explorer.panels.export import ExportBar, checked_request
from explorer.panels.snippet import literal
from tests.snippets import run_snippet

# panels built here are closed afterwards (tests.conftest.close_new_widgets)
pytestmark = pytest.mark.usefixtures("close_new_widgets")

PANELS: list[type[Panel[Any]]] = [
    ChainPanel,
    RNNPanel,
    SpectrumPanel,
    PhasePanel,
    ClipPanel,
    CliffPanel,
    TrainingPanel,
]
RTOL = 1e-12  # a log10 axis holds log10 of each value: the CSV's 10^v is the value to rounding


class KeptComm(BaseComm):
    """A comm that keeps what the kernel publishes on it, as the page would receive it."""

    def __init__(self, **kwargs: Any) -> None:
        self.published: list[tuple[str, Any, list[bytes]]] = []
        super().__init__(**kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        del metadata, keys
        self.published.append((msg_type, data, [bytes(b) for b in buffers or []]))


def bar_of(panel: Panel[Any]) -> ExportBar:
    """The panel's export bar, listening on a ``KeptComm``."""
    (bar,) = [child for child in panel.children if isinstance(child, ExportBar)]
    if not isinstance(bar.comm, KeptComm):
        bar.comm = KeptComm(comm_id=bar.model_id, primary=False)
    return bar


def ask(panel: Panel[Any], content: Any) -> list[tuple[dict[str, Any], list[bytes]]]:
    """Send the bar ``content`` as the page does; return the custom messages it answered."""
    bar = bar_of(panel)
    assert isinstance(bar.comm, KeptComm)
    before = len(bar.comm.published)
    bar._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})
    return [
        (data["content"], buffers)
        for kind, data, buffers in bar.comm.published[before:]
        if kind == "comm_msg" and data.get("method") == "custom"
    ]


def exported(panel: Panel[Any], kind: str, figure: int = 0) -> tuple[str, bytes]:
    """The file name and bytes the bar sends for ``kind`` of figure ``figure``."""
    (answer,) = ask(panel, {"event": "export", "kind": kind, "figure": figure})
    content, buffers = answer
    assert content["event"] == "file", content
    assert content["size"] == len(buffers[0])
    return content["name"], buffers[0]


def read_csv(data: bytes) -> dict[str, list[str]]:
    """A CSV as columns by name (empty cells of shorter columns dropped)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    header, body = rows[0], rows[1:]
    assert len(set(header)) == len(header), "column names are unique"
    return {name: [row[i] for row in body if row[i] != ""] for i, name in enumerate(header)}


def numbers(table: dict[str, list[str]], name: str) -> np.ndarray:
    assert name in table, f"{name!r} not among {list(table)}"
    return np.array([float(cell) for cell in table[name]])


# -- PNG and SVG ---------------------------------------------------------------------------------
@pytest.mark.parametrize("panel_class", PANELS)
def test_png_is_twice_the_size_on_screen_and_svg_keeps_the_axes_text(
    panel_class: type[Panel[Any]],
) -> None:
    """Every figure of every panel: the PNG decodes and has twice the canvas's pixels on screen
    (to a pixel: matplotlib truncates a size in pixels); the SVG parses and holds each visible
    axes' title and axis labels as text. File names say the panel (and the figure)."""
    panel = panel_class()
    slug = panel.title.lower().replace(" ", "-")
    for index, figure in enumerate(panel.figures()):
        name, data = exported(panel, "png", index)
        assert name.startswith(slug)
        assert name.endswith(".png")
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.format == "PNG"
        width, height = figure.canvas.get_width_height()
        assert abs(image.size[0] - 2 * width) <= 1, (image.size, width)
        assert abs(image.size[1] - 2 * height) <= 1, (image.size, height)
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
        assert len(np.unique(pixels, axis=0)) > 10  # drawn, not blank

        name, data = exported(panel, "svg", index)
        assert name == f"{name[:-4]}.svg"
        root = ET.fromstring(data)
        assert root.tag.endswith("svg")
        texts = {
            " ".join("".join(t.itertext()).split()) for t in root.iter() if t.tag.endswith("text")
        }
        for ax in figure.axes:
            if not ax.get_visible():
                continue
            shown = [ax.get_title(loc=loc) for loc in ("left", "center", "right")]
            shown += [ax.get_xlabel(), ax.get_ylabel()]
            for text in filter(None, shown):
                assert " ".join(text.split()) in texts, (text, sorted(texts)[:40])
    if len(panel.figures()) > 1:
        names = {exported(panel, "csv", i)[0] for i in range(len(panel.figures()))}
        assert len(names) == len(panel.figures())  # each figure its own file


def test_a_fitted_figure_exports_at_twice_its_fitted_size() -> None:
    """A page 700 px wide zooms the deep-network figure out (``fit_figures``): the PNG follows
    the size shown, not the natural one."""
    panel = ChainPanel()
    panel.fit_width(700)
    width, height = panel.figure.canvas.get_width_height()
    assert width < 700  # the zoom happened: the natural width is 1100 px
    image = Image.open(io.BytesIO(exported(panel, "png")[1]))
    assert abs(image.size[0] - 2 * width) <= 1
    assert abs(image.size[1] - 2 * height) <= 1


def test_exporting_leaves_the_live_canvas_as_it_was() -> None:
    """After PNG, SVG and CSV the live canvas keeps its renderer, dpi and size, the next slider
    move still blits, and the blitted pixels equal a full draw of the same state (matplotlib's
    own full draw is the reference)."""
    panel = ChainPanel()
    canvas = panel.figure.canvas
    canvas.draw()  # the draw the page asks for: caches the blitting background
    renderer, dpi, size = canvas.get_renderer(), panel.figure.dpi, canvas.get_width_height()
    for kind in ("png", "svg", "csv"):
        exported(panel, kind)
    assert panel.figure.canvas is canvas
    assert canvas.get_renderer() is renderer
    assert (panel.figure.dpi, canvas.get_width_height()) == (dpi, size)

    blits = panel.redrawer.blits
    panel.set_state({"weight_scale": 1.6})
    assert panel.redrawer.blits == blits + 1
    blitted = np.asarray(canvas.get_renderer().buffer_rgba()).copy()
    canvas.draw()
    assert np.array_equal(blitted, np.asarray(canvas.get_renderer().buffer_rgba()))


# -- CSV: the columns equal the core's arrays -----------------------------------------------------
def _close(shown: np.ndarray, expected: Any) -> None:
    np.testing.assert_allclose(shown, np.asarray(expected, dtype=np.float64), rtol=RTOL)


def test_deep_network_csv_holds_the_cores_norms() -> None:
    """‖∂L/∂a_l‖, ‖a_l‖ and ‖J_l‖ per layer, as chain_gradients gives them."""
    settings = {"depth": 12, "width": 16, "weight_scale": 1.7, "seed": 3, "activation": "relu"}
    panel = ChainPanel()
    panel.set_state(settings)
    expected = chain_gradients(
        init="gaussian",
        bias_scale=0.0,
        dtype="float32",
        **settings,  # the panel's defaults
    )
    name, data = exported(panel, "csv")
    assert name == "deep-network.csv"
    table = read_csv(data)
    delta = "Gradient reaching each layer: gradient ‖∂L/∂aₗ‖"
    assert numbers(table, f"{delta}: layer l").tolist() == list(range(1, 13))
    _close(numbers(table, f"{delta}: norm (log scale)"), expected.delta_norms)
    forward = "Gradient reaching each layer: activation ‖aₗ‖ (forward)"
    assert numbers(table, f"{forward}: layer l").tolist() == list(range(13))
    _close(numbers(table, f"{forward}: norm (log scale)"), expected.activation_norms)
    jacobian = "Layer Jacobians: ‖Jₗ‖ = ‖diag(φ′)Wₗ‖₂"
    _close(numbers(table, f"{jacobian}: spectral norm (log scale)"), expected.jacobian_norms)
    assert numbers(
        table, "Layer Jacobians: 1: shrink below, grow above: spectral norm (log scale)"
    ).tolist() == [1.0]


def test_deep_network_csv_keeps_overflow_and_marks_the_layers() -> None:
    """The float32 overflow preset: layers whose gradient is inf or NaN in float32 (the core
    says which; the log axis draws a gap there) are written as inf or nan, every other value
    exactly, and the layers are listed under inf/NaN."""
    panel = ChainPanel()
    panel.preset.value = "float32 overflow: 250 layers, scale 1.5"
    expected = chain_gradients(250, 32, 1.5, "gaussian", "linear", 0.0, "float32", 0)
    bad = ~np.isfinite(expected.delta_norms)
    assert bad.any()  # the preset's point
    table = read_csv(exported(panel, "csv")[1])
    shown = numbers(table, "Gradient reaching each layer: gradient ‖∂L/∂aₗ‖: norm (log scale)")
    np.testing.assert_array_equal(shown, expected.delta_norms)  # inf as inf, nan as nan
    assert b"inf" in exported(panel, "csv")[1]
    marked = set(numbers(table, "Gradient reaching each layer: inf/NaN: layer l").astype(int))
    assert set(np.flatnonzero(bad) + 1) <= marked
    for layer in marked:  # each marked layer holds an inf/NaN gradient or activation
        gradient = expected.delta_norms[layer - 1] if layer >= 1 else 0.0
        assert not (np.isfinite(gradient) and np.isfinite(expected.activation_norms[layer]))


def test_recurrent_csv_holds_the_cores_norms() -> None:
    settings = {"seq_len": 30, "hidden_size": 8, "weight_scale": 1.2, "seed": 2}
    panel = RNNPanel()
    panel.set_state(settings)
    expected = rnn_gradients(**settings)  # the rest at the panel's defaults, the core's too
    table = read_csv(exported(panel, "csv")[1])
    delta = "Gradient reaching each step: ‖∂L/∂hₖ‖"
    assert numbers(table, f"{delta}: time step k").tolist() == list(range(31))
    _close(numbers(table, f"{delta}: norm (log scale)"), expected.delta_norms)
    terms = "What each step adds to ∂L/∂W: ‖term of step t‖: Frobenius norm (log scale)"
    np.testing.assert_array_equal(numbers(table, terms), expected.weight_grad_contributions)
    largest = "Step Jacobians: λ₁ of W: spectral norm (log scale)"
    _close(numbers(table, largest), [expected.largest_singular_value] * 2)


def test_spectra_csv_holds_every_singular_value_and_the_histogram() -> None:
    """The rug under each histogram is every finite singular value; the histogram's counts add
    up to their number."""
    settings = {"length": 20, "width": 8, "weight_scale": 1.1, "activation": "tanh", "seed": 5}
    panel = SpectrumPanel()
    panel.set_state(settings)
    spectra = jacobian_spectra(network="deep", inits=("gaussian", "orthogonal"), **settings)
    table = read_csv(exported(panel, "csv")[1])
    for spectrum in spectra:
        axes = f"{spectrum.init} weights"
        logs = spectrum.log10_singular_values[np.isfinite(spectrum.log10_singular_values)]
        _close(numbers(table, f"{axes}: points 1: singular value σ (log scale)"), 10.0**logs)
        counts = numbers(table, f"{axes}: singular values: how many")
        assert counts.sum() == logs.size
        low = numbers(table, f"{axes}: singular values: singular value σ (log scale) from")
        high = numbers(table, f"{axes}: singular values: singular value σ (log scale) to")
        assert (low < high).all()
        reference = f"{axes}: scaleᴸ (orthogonal, linear): singular value σ (log scale)"
        _close(numbers(table, reference), [10.0**spectrum.log10_reference])


def test_phase_csv_holds_the_measured_grid() -> None:
    """One row per cell: σ_w, σ_b and the measured log10 growth, as phase_diagram gives them."""
    panel = PhasePanel()
    panel.set_state({"depth": 12, "width": 16, "seed": 1, "weight_std": 1.5})
    expected = phase_diagram(activation="tanh", depth=12, width=16, seed=1)
    table = read_csv(exported(panel, "csv")[1])
    axes = "tanh, 12 layers × width 16: measured: measured log₁₀ growth of ‖δ‖ per layer"
    weight, bias = np.meshgrid(expected.weight_stds, expected.bias_stds)
    assert np.array_equal(numbers(table, f"{axes}: weight std σ_w"), weight.ravel())
    assert np.array_equal(numbers(table, f"{axes}: bias std σ_b"), bias.ravel())
    growth = numbers(table, f"{axes}: measured log₁₀ growth of ‖δ‖ per layer")
    np.testing.assert_array_equal(growth, expected.log10_growth.ravel())
    chosen = "tanh, 12 layers × width 16: measured: chosen setting: weight std σ_w"
    assert numbers(table, chosen).tolist() == [1.5]


def test_clipping_csv_holds_the_vectors_and_the_tensor_norms() -> None:
    """Exercise 2 of article 001 (g = [3, 4] clipped to norm 2 is [1.2, 1.6], from torch through
    clip_gradients), then exercise 4's two tensors as bars named after their tensors."""
    panel = ClipPanel()
    panel.set_state({"gradient": "3, 4", "threshold": 2.0, "left": "value", "right": "norm"})
    table = read_csv(exported(panel, "csv")[1])
    norm = clip_gradients([np.array([3.0, 4.0])], "norm", 2.0, "torch")
    axes = f"norm ({norm.library_call})"
    assert numbers(table, f"{axes}: gradient g: x").tolist() == [0.0, 3.0]
    assert numbers(table, f"{axes}: gradient g: y").tolist() == [0.0, 4.0]
    assert numbers(table, f"{axes}: clipped: x").tolist() == [0.0, norm.grads[0][0]]
    assert numbers(table, f"{axes}: clipped: y").tolist() == [0.0, norm.grads[0][1]]
    np.testing.assert_allclose(norm.grads[0], [1.2, 1.6], rtol=1e-6)  # the article's answer

    panel.set_state({"gradient": "100, 0; 0, 0.1", "threshold": 1.0, "left": "global_norm"})
    table = read_csv(exported(panel, "csv")[1])
    tensors = [np.array([100.0, 0.0]), np.array([0.0, 0.1])]
    for method in ("global_norm", "norm"):
        expected = clip_gradients(tensors, method, 1.0, "torch")
        axes = f"{method} ({expected.library_call})"
        assert table[f"{axes}: before: name"] == ["tensor 1", "tensor 2"]
        _close(
            numbers(table, f"{axes}: before: tensor norm (log scale)"), expected.tensor_norms_before
        )
        _close(
            numbers(table, f"{axes}: after: tensor norm (log scale)"), expected.tensor_norms_after
        )


def test_cliff_csv_holds_the_surface_and_the_descents() -> None:
    """The loss surface itself (not its floored log10) over the grid, and each run's path and
    per-step values, as cliff_surface and cliff_descents give them."""
    panel = CliffPanel()
    panel.set_state({"start_w": 5.5, "start_b": -2.5, "steps": 50, "seq_len": 20})
    surface = cliff_surface(W_RANGE, B_RANGE, 300, 20)
    unclipped, clipped = cliff_descents((5.5, -2.5), 0.5, 50, 1.0, "global_norm", 20)
    table = read_csv(exported(panel, "csv")[1])
    axes = "loss (σ(x_T) − 0.7)², T = 20"
    w, b = np.meshgrid(surface.w, surface.b)
    assert np.array_equal(numbers(table, f"{axes}: loss: w (recurrent weight)"), w.ravel())
    assert np.array_equal(numbers(table, f"{axes}: loss: b (bias)"), b.ravel())
    assert np.array_equal(numbers(table, f"{axes}: loss: loss"), surface.loss.ravel())
    for run in (unclipped, clipped):
        name = "unclipped" if run is unclipped else "clipped"
        path = run.trajectories[0]
        finite = np.isfinite(path).all(axis=1)
        assert np.array_equal(
            numbers(table, f"{axes}: {name}: w (recurrent weight)"), path[finite, 0]
        )
        norms = numbers(table, f"Gradient norm before clipping: {name}: ‖∇L‖")
        _close(norms, run.grad_norms[0])


def test_training_csv_holds_both_runs_and_each_tensors_norm() -> None:
    """Ten steps of the MLP regression: each run's loss and gradient norm per step (the
    unclipped run's inf where it overflowed), and each tensor's gradient norm at the inspected
    step, as train_pair gives them."""
    panel = TrainingPanel()
    panel.set_state({"steps": 10})
    assert panel.start()  # no event loop here: trains to the end before it returns
    unclipped, clipped = train_pair(
        "regression",
        clip_method="value",
        optimizer="momentum",
        lr=0.07,
        steps=10,
        seed=0,
        clip_threshold=1.0,
    )
    name, data = exported(panel, "csv", 0)
    assert name == "training-lab-loss-and-gradient-norm.csv"
    table = read_csv(data)
    for run, label in ((unclipped, "unclipped"), (clipped, "clipped")):
        assert numbers(table, f"Training loss: {label}: step").tolist() == list(range(run.steps))
        np.testing.assert_array_equal(numbers(table, f"Training loss: {label}: loss"), run.losses)
        norms = numbers(table, f"Global gradient norm before clipping: {label}: ‖∇L‖")
        np.testing.assert_array_equal(norms, run.grad_norms)
    assert not np.isfinite(unclipped.losses).all()  # the tutorial's unclipped run overflows
    name, data = exported(panel, "csv", 1)
    assert name == "training-lab-tensor-norms.csv"
    table = read_csv(data)
    step = panel.step_slider.value
    for run, label in ((unclipped, "unclipped"), (clipped, "clipped")):
        axes = f"Each tensor's gradient norm: {label}"
        assert table[f"{axes}: name"] == list(run.names)
        np.testing.assert_array_equal(
            numbers(table, f"{axes}: ‖∇‖ before clipping"), run.param_grad_norms[step]
        )


# -- "Copy as code" ------------------------------------------------------------------------------
def _chain(panel: Any) -> dict[str, Any]:
    panel.set_state({"depth": 9, "width": 12, "weight_scale": 2.2, "bias_scale": 0.3, "seed": 7})
    return {"result": panel.result}


def _rnn(panel: Any) -> dict[str, Any]:
    panel.set_state({"seq_len": 25, "hidden_size": 6, "cell": "lstm", "gate_bias": 1.5})
    return {"result": panel.result}


def _spectra(panel: Any) -> dict[str, Any]:
    panel.set_state({"network": "recurrent", "length": 30, "width": 10, "weight_scale": 0.9})
    return {"gaussian": panel.result.gaussian, "orthogonal": panel.result.orthogonal}


def _phase(panel: Any) -> dict[str, Any]:
    panel.set_state({"activation": "relu", "depth": 10, "width": 16, "weight_std": 1.41})
    chi_1, q_star = mean_field_chi(1.41, panel.bias_std.value, "relu")  # what the readout says
    return {"result": panel.result, "chi_1": chi_1, "q_star": q_star}


def _clip(panel: Any) -> dict[str, Any]:
    panel.set_state({"gradient": "16, 12, -8; 0.5, inf", "threshold": 5.0, "right": "norm"})
    return {"left": panel.result.left, "right": panel.result.right}


def _cliff(panel: Any) -> dict[str, Any]:
    panel.set_state({"fan": True, "steps": 30, "lr": 0.7, "method": "norm"})
    result = panel.result
    return {"unclipped": result.unclipped, "clipped": result.clipped, "box": (W_RANGE, B_RANGE)}


def _training(panel: Any) -> dict[str, Any]:
    panel.set_state({"steps": 12, "optimizer": "adam", "lr": 0.003, "clip_method": "norm"})
    assert panel.start()
    unclipped, clipped = panel.histories
    return {"unclipped": unclipped, "clipped": clipped}


SNIPPET_CASES: dict[type[Panel[Any]], Callable[[Any], dict[str, Any]]] = {
    ChainPanel: _chain,
    RNNPanel: _rnn,
    SpectrumPanel: _spectra,
    PhasePanel: _phase,
    ClipPanel: _clip,
    CliffPanel: _cliff,
    TrainingPanel: _training,
}


def same(printed: Any, shown: Any) -> bool:
    """Whether a printed value equals the panel's (NaN equal to NaN; arrays element by element)."""
    if shown is None or isinstance(shown, bool | int | str):
        return bool(printed == shown)
    if isinstance(shown, tuple):
        return len(printed) == len(shown) and all(map(same, printed, shown))
    expected = np.asarray(shown, dtype=np.float64)
    got = np.asarray(printed, dtype=np.float64)
    return got.shape == expected.shape and bool(np.array_equal(got, expected, equal_nan=True))


@pytest.mark.parametrize("panel_class", list(SNIPPET_CASES), ids=lambda c: c.key)
def test_copied_code_prints_the_numbers_the_panel_shows(panel_class: type[Panel[Any]]) -> None:
    """The panel at non-default settings; its snippet, run in a fresh interpreter, prints each
    expression's value, which equals that expression evaluated on the panel's own result."""
    panel = panel_class()
    namespace = SNIPPET_CASES[panel_class](panel)
    (answer,) = ask(panel, {"event": "export", "kind": "code", "figure": 0})
    content, buffers = answer
    assert content["event"] == "code"
    assert not buffers
    code = content["text"]
    assert code == panel.snippet()
    assert "from explorer.core import" in code
    printed = run_snippet(code)
    assert len(printed) >= 3
    for expression, value in printed.items():
        shown = eval(expression, {"int": int}, namespace)
        assert same(value, shown), expression


def test_snippet_values_are_written_exactly() -> None:
    """repr of a float reads back as the same float; inf and NaN, which have no literal, as
    float(...); tuples of one keep their comma."""
    for value in (0.1, 1 / 3, 2.0**-1074, 1e308, -0.0):
        assert eval(literal(value)) == value
        assert math.copysign(1, eval(literal(value))) == math.copysign(1, value)
    assert eval(literal(math.inf)) == math.inf
    assert math.isnan(eval(literal(math.nan)))
    assert literal((6.0,)) == "(6.0,)"
    assert literal(np.array([1.5, -math.inf])) == '[1.5, float("-inf")]'
    assert literal('say "hi"') == repr('say "hi"')


# -- what the page may send --------------------------------------------------------------------
FORGED = [
    None,
    "png",
    [1, 2],
    {"kind": "png", "figure": 0},  # no event
    {"event": "export"},  # no kind
    {"event": "export", "kind": "exe", "figure": 0},
    {"event": "export", "kind": "PNG", "figure": 0},
    {"event": "export", "kind": ["png"], "figure": 0},
    {"event": "export", "kind": "png", "figure": 1},  # one figure only
    {"event": "export", "kind": "png", "figure": -1},
    {"event": "export", "kind": "png", "figure": True},
    {"event": "export", "kind": "png", "figure": 0.0},
    {"event": "export", "kind": "png", "figure": "0"},
    {"event": "export", "kind": "csv", "figure": 10**30},
]


def test_a_forged_request_is_refused_with_a_status_line() -> None:
    """Each forged message: nothing is sent back, the status line says it was refused (a
    warning, no traceback), and the panel still computes."""
    panel = ChainPanel()
    for content in FORGED:
        panel.set_status("before")
        assert ask(panel, content) == [], content
        assert "Export refused" in panel.status.value, content
        assert isinstance(checked_request(content, 1), str)
    panel.set_state({"depth": 7})
    assert panel.result is not None
    assert panel.result.depth == 7
    assert exported(panel, "png")[0] == "deep-network.png"  # and still exports


def test_code_with_nothing_shown_says_so() -> None:
    """A panel whose first refresh showed nothing (here: its result dropped) answers "Copy as
    code" with a note, not an exception."""
    panel = ChainPanel()
    panel.result = None
    assert ask(panel, {"event": "export", "kind": "code", "figure": 0}) == []
    assert "Nothing is shown yet" in panel.status.value
