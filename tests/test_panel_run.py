"""The Your run tab driven from Python: what it shows for the example, an uploaded recording, the
Training lab's run, a link; what it refuses; and that it stays readable at 300 tensors.

Expected values come from the core run here (``train``, ``run_policy`` on the recorded norms, the
recorder's own ``first_nonfinite``) and from how the test builds its recordings (the tensor it
poisons, the module names it gives).
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch

from explorer.app import App
from explorer.core import (
    AutoClip,
    GlobalNormClip,
    GradientHistory,
    GradientRecorder,
    SkipAboveThreshold,
    SpikeDetection,
    ZClip,
    run_policy,
    train,
)
from explorer.panels.run import RunPanel, example_run
from explorer.panels.train import TrainingPanel
from explorer.plots.run import NAMED_GROUPS
from explorer.plots.style import format_number


def _text(html_text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_text))


def _rows(panel: RunPanel) -> dict[str, list[str]]:
    """The replay table's rows by policy label: each row's cells as text."""
    cells = re.findall(r"<tr>(.*?)</tr>", panel.readout.value)
    rows = [[_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in cells]
    return {row[0]: row[1:] for row in rows if row}


@pytest.fixture(scope="module")
def panel() -> RunPanel:
    return RunPanel()


def test_the_example_is_the_adding_rnn_trained_unclipped(panel: RunPanel) -> None:
    """The example equals train('adding', clip_method=None) run here; the status says its steps
    and its first inf/NaN step (the run diverges)."""
    reference = train("adding", clip_method=None)
    shown = panel.result
    assert shown is not None
    np.testing.assert_array_equal(shown.history.grad_norms, reference.grad_norms)
    first = reference.first_nonfinite_step
    assert first is not None
    assert f"{reference.steps} steps, 6 tensors; it goes inf/NaN at step {first}" in _text(
        panel.status.value
    )


def test_policy_counts_are_the_cores(panel: RunPanel) -> None:
    """Each policy row's clips and skips equal run_policy on the recorded global norms, with the
    policies the controls' defaults give."""
    norms = example_run().grad_norms
    rows = _rows(panel)
    for policy in (
        GlobalNormClip(1.0),
        SpikeDetection(window=10, warmup=10, rtol=2.0),
        ZClip(z_thresh=2.5, warmup_steps=10, max_grad_norm=None),
        AutoClip(10.0),
        SkipAboveThreshold(1000.0),
    ):
        trace = run_policy(policy, norms)
        assert rows[policy.label][:2] == [str(trace.count("clip")), str(trace.count("skip"))]


def _poisoned_recording(step: int = 4) -> tuple[bytes, GradientRecorder]:
    """A small two-block model trained 8 steps, recorded with its optimizer; a NaN is put into
    block.1.weight's gradient at ``step``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = torch.nn.Sequential()
        model.add_module("embed", torch.nn.Linear(3, 6))
        model.add_module("block", torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Linear(6, 6)))
        model.add_module("head", torch.nn.Linear(6, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    recorder = GradientRecorder(model, optimizer=optimizer)
    gen = torch.Generator().manual_seed(1)
    for index in range(8):
        optimizer.zero_grad()
        x, y = torch.randn(16, 3, generator=gen), torch.randn(16, 1, generator=gen)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()  # type: ignore[no-untyped-call]
        if index == step:
            grad = model.block[1].weight.grad
            assert grad is not None
            grad[0, 0] = float("nan")
        recorder.record(loss)
        if index != step:
            optimizer.step()
    buffer = io.BytesIO()
    recorder.save(buffer)
    return buffer.getvalue(), recorder


def test_an_uploaded_recording_names_its_first_nonfinite_tensor() -> None:
    content, recorder = _poisoned_recording()
    found = recorder.first_nonfinite
    assert found is not None
    panel = RunPanel()
    assert panel.load_file("mine.npz", memoryview(content))
    assert panel.controls["source"].value == "upload"
    text = _text(panel.readout.value)
    assert f"step {found.step}: {found.name} in {found.module} ({found.module_type})" in text
    assert found.name == "block.1.weight"  # what the test poisoned
    assert "Showing your file mine.npz: 8 steps, 6 tensors" in _text(panel.status.value)
    # first non-finite first: the poisoned tensor's group on top
    panel.apply_state({"sort": "first non-finite", "group": "1"})
    assert panel.heatmap.names[:2] == ["block.1.weight", "block.1.bias"]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"not a zip at all", "not a gradient recording"),
        (b"PK\x03\x04 truncated", "not a gradient recording"),
    ],
)
def test_a_bad_upload_is_said_and_changes_nothing(content: bytes, said: str) -> None:
    panel = RunPanel()
    before, readout = panel.result, panel.readout.value
    assert not panel.load_file("junk.npz", content)
    assert said in panel.status.value
    assert "junk.npz" in panel.status.value
    assert panel.result is before
    assert panel.readout.value == readout
    assert panel.controls["source"].value == "example"


def test_a_too_large_upload_is_refused_before_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.panels import run

    monkeypatch.setattr(run, "MAX_UPLOAD_BYTES", 10)
    panel = RunPanel()
    assert not panel.load_file("big.npz", b"x" * 11)
    assert "files up to" in panel.status.value


def test_upload_without_a_file_says_so() -> None:
    panel = RunPanel()
    before = panel.result
    panel.apply_state({"source": "upload"})
    assert "no file uploaded yet" in panel.status.value
    assert panel.result is before


def test_the_training_labs_last_run() -> None:
    """Before Start: said, nothing changes. After a run (trained to the end: no event loop
    here), each of its two runs is shown, the very histories the lab holds."""
    app = App()
    run_panel = app.panel("run")
    assert isinstance(run_panel, RunPanel)
    before = run_panel.result
    run_panel.apply_state({"source": "training-clipped"})
    assert "has no run yet" in run_panel.status.value
    assert run_panel.result is before
    lab = app.panel("training")
    assert isinstance(lab, TrainingPanel)
    lab.apply_state({"steps": 20})
    assert lab.diagnose_button.disabled  # no run yet
    assert lab.start()
    assert not lab.diagnose_button.disabled
    lab.diagnose_button.click()  # the lab's button opens this tab on its unclipped run
    assert app.view()[0] == "run"
    assert run_panel.result is not None
    assert run_panel.result.history is lab.histories[0]
    for which, source in enumerate(("training-unclipped", "training-clipped")):
        run_panel.apply_state({"source": source})
        assert run_panel.result is not None
        assert run_panel.result.history is lab.histories[which]
        steps = run_panel.result.history.steps
        assert f"last {source[9:]} run: {steps} steps" in _text(run_panel.status.value)
    # the clipped run was clipped live: its row says so, and the fixed policy at its threshold
    # changes none of its steps
    clipped = lab.histories[1]
    assert clipped is not None
    threshold = clipped.clip_threshold
    assert threshold is not None
    if clipped.clip_method == "global_norm":
        run_panel.apply_state({"threshold": threshold})
        assert _rows(run_panel)[GlobalNormClip(threshold).label][2] == "never"


def test_a_link_sets_the_policies_exactly() -> None:
    app = App(link="tab=run&threshold=2.0&percentile=50&sort=largest%20norm&step=7")
    panel = app.panel("run")
    assert app.view()[0] == "run"
    assert panel.state["threshold"] == 2.0
    rows = _rows(panel)
    norms = example_run().grad_norms
    for policy in (GlobalNormClip(2.0), AutoClip(50.0)):
        trace = run_policy(policy, norms)
        assert rows[policy.label][:2] == [str(trace.count("clip")), str(trace.count("skip"))]
    assert panel.state["sort"] == "largest norm"
    assert "step" not in panel.state  # transient: a link cannot bring back an upload's steps


def test_the_inspected_step_is_written_out(panel: RunPanel) -> None:
    history = example_run()
    panel.apply_state({"step": 5})
    text = _text(panel.readout.value)
    # the numbers as the app writes every number (format_number), from the core's history
    loss, norm = (
        format_number(float(history.losses[5])),
        format_number(float(history.grad_norms[5])),
    )
    assert f"step 5 loss {loss}, ‖∇L‖ {norm}" in text
    norms = history.param_grad_norms[5]
    largest = history.names[int(np.nanargmax(norms))]
    assert f"largest: {largest}" in text


def _wide_history(tensors: int = 300, steps: int = 50) -> GradientHistory:
    """A recording of a 12-layer model's 300 tensors (25 per layer), made up: norms drawn
    log-normally."""
    rng = np.random.default_rng(0)
    modules = tuple(f"encoder.layers.{i // 25}.part{(i % 25) // 2}" for i in range(tensors))
    names = tuple(f"{m}.{'weight' if i % 2 == 0 else 'bias'}" for i, m in enumerate(modules))
    norms = np.exp(rng.normal(size=(steps, tensors)))
    return GradientHistory.from_norms(
        norms,
        names,
        losses=np.linspace(2.0, 1.0, steps),
        shapes=((4, 4),) * tensors,
        modules=modules,
        module_types=("Linear",) * tensors,
    )


def test_three_hundred_tensors_are_named_by_group() -> None:
    """At 300 tensors the rows are labelled by module group (at most NAMED_GROUPS labels):
    automatic grouping takes the 12 layers."""
    buffer = io.BytesIO()
    _wide_history().save(buffer)
    panel = RunPanel()
    assert panel.load_file("wide.npz", buffer.getvalue())
    labels = [t.get_text() for t in panel.heatmap.ax.get_yticklabels()]
    assert labels == [f"encoder.layers.{i}" for i in range(12)]
    assert len(labels) <= NAMED_GROUPS
    assert panel.heatmap.values.shape == (300, 50)
    # hovering names the tensor under the pointer
    described = panel.heatmap.ax.format_coord(3.0, 26.0)
    # row 26: layer 1's second tensor (i = 26: part (26 % 25) // 2 = 0, even: a weight)
    value = _wide_history().param_grad_norms[3, 26]
    assert described == f"step 3 · encoder.layers.1.part0.weight: ‖∇‖ = {value:.4g}"


def test_the_server_takes_a_message_as_large_as_the_largest_upload() -> None:
    """An upload is one websocket message: voila.py's limit leaves room for the file and its
    envelope (tornado's default, 10 MiB, would close the page's connection)."""
    from explorer.panels import run
    from explorer.serving.settings import MAX_MESSAGE_BYTES

    assert MAX_MESSAGE_BYTES >= run.MAX_UPLOAD_BYTES + 2**19
