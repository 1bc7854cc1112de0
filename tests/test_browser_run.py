"""The Your run tab in the served page (Voilà + Chromium): a link opens it on the example, a link
or a typed value sets a policy, a recording saved by ``GradientRecorder`` is uploaded and read,
a file that is no recording is refused, and the Training lab's last run is loaded.

Every expected number comes from the core run in this process: ``example_run()`` (the adding
problem's RNN trained unclipped), ``run_policy`` on a recording's global norms, the recorder's
own ``first_nonfinite``, ``GradientHistory.load`` and ``train_pair`` at the Training lab's
settings. The served kernel computes on one torch thread (voila.py), so the runs here do too.
One server for the module and three page loads: one per link, and one page the upload, typing
and Training lab tests share (each of them first puts the tab in the state it needs).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import torch

from explorer.core import (
    AutoClip,
    GlobalNormClip,
    GradientHistory,
    GradientRecorder,
    NonfiniteGradient,
    Policy,
    SkipAboveThreshold,
    SpikeDetection,
    ZClip,
    run_policy,
    train_pair,
)
from explorer.panels.number import parse_number
from explorer.panels.run import example_run
from tests.serving import (
    VISIBLE_READOUT_JS,
    box_of,
    enter_value,
    open_app,
    open_tab,
    wait_for_status,
)

pytestmark = pytest.mark.browser

T = TypeVar("T")
TAB = "Your run"
EXAMPLE_SOURCE = "Showing the example"
# the visible readout's table rows, each as its cells' text (the summary table, then the
# replay's table: policy label | clips | skips | first step that differs | ...)
ROWS_JS = """() => {
  const readout = [...document.querySelectorAll('.ge-readout')].find(r => r.offsetParent !== null);
  if (!readout) return [];
  return [...readout.querySelectorAll('tr')]
    .map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()));
}"""
# the policies the tab replays with its controls' defaults (explorer/panels/run.py: clip
# threshold 1, spike window 10, spike rtol 2, warm-up steps 10, ZClip z 2.5, AutoClip p 10, skip
# above 1000)
DEFAULT_POLICIES: tuple[Policy, ...] = (
    GlobalNormClip(1.0),
    SpikeDetection(window=10, warmup=10, rtol=2.0),
    ZClip(z_thresh=2.5, warmup_steps=10, max_grad_norm=None),
    AutoClip(10.0),
    SkipAboveThreshold(1000.0),
)


def on_one_thread(compute: Callable[[], T]) -> T:
    """``compute()`` with torch on one thread, as the served kernel computes (voila.py sets
    OMP_NUM_THREADS=1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return compute()
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def example() -> GradientHistory:
    """The example run, computed here."""
    return on_one_thread(example_run)


@contextmanager
def opened(browser: Any, url: str) -> Iterator[Any]:
    """A page of ``url``, open until the test ends."""
    page = open_app(browser, url)
    try:
        yield page
    finally:
        page.close()


@pytest.fixture(scope="module")
def shared(server: str, browser: Any) -> Iterator[Any]:
    """One page on the Your run tab for the tests that act as a user does."""
    with opened(browser, server + "?tab=run") as page:
        wait_for_status(page, "Showing", timeout_ms=60_000)
        yield page


def expected_counts(policy: Policy, history: GradientHistory) -> list[str]:
    """The core's clips and skips for ``policy`` on ``history``'s global norms, as text."""
    trace = run_policy(policy, history.grad_norms)
    return [str(trace.count("clip")), str(trace.count("skip"))]


def shown_rows(page: Any) -> dict[str, list[str]]:
    """The readout's rows by their first cell."""
    return {row[0]: row[1:] for row in page.evaluate(ROWS_JS) if row}


def wait_for_counts(page: Any, label: str, counts: list[str], timeout_ms: int = 30_000) -> None:
    """Wait until the readout's row ``label`` starts with ``counts`` (clips, skips)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(
            f"""([label, counts]) => ({ROWS_JS})().some(row => row[0] === label
                 && row[1] === counts[0] && row[2] === counts[1])""",
            arg=[label, counts],
            timeout=timeout_ms,
        )
    except PlaywrightTimeoutError as error:
        rows = {key: value[:2] for key, value in shown_rows(page).items()}
        raise AssertionError(
            f"row {label!r} never showed {counts}; the page shows {rows}"
        ) from error


def steady_readout(page: Any) -> str:
    """The visible readout once it reads the same three times 0.7 s apart (a refresh the kernel
    sent last may still be arriving)."""
    reads: list[str] = []
    for _ in range(60):
        reads = [*reads[-2:], page.evaluate(VISIBLE_READOUT_JS)]
        if len(reads) == 3 and len(set(reads)) == 1:
            return reads[0]
        page.wait_for_timeout(700)
    raise AssertionError("the readout kept changing")


def choose_run(page: Any, option: str) -> None:
    """Choose ``option`` in the visible "run" dropdown."""
    dropdown = page.locator(".widget-dropdown:has(label:text-is('run')) >> visible=true")
    dropdown.locator("select").select_option(label=option)


def upload(page: Any, path: Path) -> None:
    """Press the visible Upload button and choose ``path`` in the file chooser, as a user does.
    (ipywidgets 8's FileUpload keeps its input[type=file] out of the document, so the chooser the
    button opens is what takes the file.)"""
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload >> visible=true").click()
    chooser.value.set_files(str(path))


def poisoned_recording(folder: Path, step: int) -> tuple[Path, NonfiniteGradient]:
    """A small MLP trained 8 steps with plain SGD, recorded with its optimizer, a NaN put into the
    last layer's weight gradient at ``step`` (that step's update is not applied); saved as
    ``folder``/mine.npz. Returns the file and what the recorder found first."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    recorder = GradientRecorder(model, optimizer=optimizer)
    generator = torch.Generator().manual_seed(1)
    for index in range(8):
        optimizer.zero_grad()
        x, y = torch.randn(16, 3, generator=generator), torch.randn(16, 1, generator=generator)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()  # type: ignore[no-untyped-call]
        if index == step:
            grad = model[2].weight.grad
            assert grad is not None
            grad[0, 1] = float("nan")
        recorder.record(loss)
        if index != step:
            optimizer.step()
    path = folder / "mine.npz"
    recorder.save(path)
    found = recorder.first_nonfinite
    assert found is not None
    return path, found


def test_a_link_opens_the_tab_on_the_example(
    server: str, browser: Any, example: GradientHistory
) -> None:
    """``?tab=run``: the status gives the example's steps, tensors and first inf/NaN step, and
    each policy row's clips and skips are run_policy's at the controls' defaults."""
    first = example.first_nonfinite_step
    assert first is not None  # the example goes non-finite (at step 32 with seed 0)
    with opened(browser, server + "?tab=run") as page:
        status = wait_for_status(page, EXAMPLE_SOURCE, timeout_ms=60_000)
        assert (
            f"{example.steps} steps, {len(example.names)} tensors; it goes inf/NaN at step {first}"
        ) in status
        for policy in DEFAULT_POLICIES:
            wait_for_counts(page, policy.label, expected_counts(policy, example))
        assert len(shown_rows(page)) >= len(DEFAULT_POLICIES)


def test_a_link_with_typed_values_sets_the_policies(
    server: str, browser: Any, example: GradientHistory
) -> None:
    """``threshold=2.0&percentile=50``: the rows are labelled for GlobalNormClip(2.0) and
    AutoClip(50.0), with the core's counts for those policies, and the boxes show the values."""
    with opened(browser, server + "?tab=run&threshold=2.0&percentile=50") as page:
        wait_for_status(page, EXAMPLE_SOURCE, timeout_ms=60_000)
        for policy in (GlobalNormClip(2.0), AutoClip(50.0)):
            assert policy.label in ("global norm 2 (torch)", "AutoClip (p=50)")
            wait_for_counts(page, policy.label, expected_counts(policy, example))
        rows = shown_rows(page)
        assert "global norm 1 (torch)" not in rows
        assert "AutoClip (p=10)" not in rows
        assert parse_number(box_of(page, "clip threshold").input_value()) == 2.0
        assert parse_number(box_of(page, "AutoClip p").input_value()) == 50.0


def test_a_typed_clip_threshold_updates_its_row(shared: Any, example: GradientHistory) -> None:
    """On the example, typing 100 into "clip threshold" gives the row of GlobalNormClip(100.0)
    with the core's counts (30 of the 33 steps clipped with seed 0: the norms at steps 1-3 are
    below 100; 33 at the default threshold 1)."""
    page = shared
    open_tab(page, TAB)
    choose_run(page, "Example: tanh RNN on the adding problem, unclipped")
    enter_value(page, "clip threshold", "100")
    wait_for_status(page, EXAMPLE_SOURCE, timeout_ms=60_000)  # an earlier test's error is gone
    policy = GlobalNormClip(100.0)
    counts = expected_counts(policy, example)
    assert counts != expected_counts(GlobalNormClip(1.0), example)  # the row must change
    wait_for_counts(page, "global norm 100 (torch)", counts)
    # the other policies are the defaults still
    wait_for_counts(page, "skip at 1000", expected_counts(SkipAboveThreshold(1000.0), example))


def test_an_uploaded_recording_is_read(shared: Any, tmp_path: Path) -> None:
    """A recording made and saved here, uploaded: the status names the file, its steps and
    tensors and its first inf/NaN step; the readout names the poisoned tensor at that step as
    the recorder found it; the skip row is run_policy's on the loaded norms."""
    path, found = poisoned_recording(tmp_path, step=3)
    assert (found.step, found.name) == (3, "2.weight")  # what the test poisoned
    history = GradientHistory.load(path)
    page = shared
    open_tab(page, TAB)
    upload(page, path)
    status = wait_for_status(page, "Showing your file mine.npz:", timeout_ms=60_000)
    assert (
        f"{history.steps} steps, {len(history.names)} tensors; it goes inf/NaN at step 3"
    ) in status
    readout = page.evaluate(VISIBLE_READOUT_JS)
    assert f"step {found.step}: {found.name}" in readout
    # skip above 1000: the NaN norm at step 3 is skipped (optax's rule skips NaN)
    wait_for_counts(page, "skip at 1000", expected_counts(SkipAboveThreshold(1000.0), history))


def test_a_file_that_is_no_recording_is_refused(shared: Any, tmp_path: Path) -> None:
    """Junk bytes named .npz: the status line says the core's reason (GradientHistory.load's
    ValueError), and the readout still shows the run it showed before, unchanged."""
    junk = tmp_path / "broken.npz"
    junk.write_bytes(b"these bytes are no numpy archive" * 10)
    with pytest.raises(ValueError, match="not a gradient recording") as refused:
        GradientHistory.load(io.BytesIO(junk.read_bytes()))
    page = shared
    open_tab(page, TAB)
    wait_for_status(page, "Showing", timeout_ms=60_000)
    before = steady_readout(page)
    assert before
    upload(page, junk)
    status = wait_for_status(page, "broken.npz: ", timeout_ms=60_000)
    assert f"broken.npz: {refused.value}" in status
    assert "not a gradient recording" in status
    assert page.evaluate(VISIBLE_READOUT_JS) == before


def test_the_training_labs_last_run_is_loaded(shared: Any) -> None:
    """Train 30 steps in the Training lab, then choose its last unclipped run here: the status
    gives the steps and first inf/NaN step of train_pair's unclipped run at the lab's defaults
    (the MLP regression, seed 0), which stops at its first non-finite step (5 steps, inf/NaN at
    step 4); its last clipped run is train_pair's clipped run, all 30 steps."""
    unclipped, clipped = on_one_thread(
        lambda: train_pair("regression", clip_method="value", clip_threshold=1.0, steps=30, seed=0)
    )
    page = shared
    open_tab(page, "Training lab")
    enter_value(page, "steps", "30")
    page.locator("button:has-text('Start') >> visible=true").click()
    wait_for_status(page, "Done:", timeout_ms=120_000)
    open_tab(page, TAB)
    choose_run(page, "Training lab: its last unclipped run")
    status = wait_for_status(
        page, "Showing the Training lab's last unclipped run:", timeout_ms=60_000
    )
    first = unclipped.first_nonfinite_step
    ending = "stays finite" if first is None else f"goes inf/NaN at step {first}"
    assert f"{unclipped.steps} steps, {len(unclipped.names)} tensors; it {ending}" in status
    # the clipped run trains all 30 steps (value clipping at 1 keeps it finite)
    choose_run(page, "Training lab: its last clipped run")
    status = wait_for_status(page, "Showing the Training lab's last clipped run:")
    assert (clipped.steps, clipped.first_nonfinite_step) == (30, None)
    assert f"{clipped.steps} steps, {len(clipped.names)} tensors; it stays finite" in status
