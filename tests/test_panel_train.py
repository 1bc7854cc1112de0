"""The training lab driven as the browser drives it: controls set, Start and Stop clicked.

Expected values come from the core called directly with the panel's settings
(``explorer.core.train_pair``, ``Trainer``), from ``SCENARIO_DEFAULTS`` and the panel's own
``BOUNDS`` and ``COMPUTE_BUDGET``, from the readout's number format (``format_number``), and from
the design of ``explorer/panels/train.py``: training in slices that yield to the loop, Stop after
the current slice. How long a callback holds the kernel is a time, measured by
benchmarks/bench_training.py, not asserted here.

torch runs on 1 thread here, as in the served kernels (voila.py, benchmarks/bench_training.py): on a
2-core machine that another process keeps busy, torch's 2-thread default turns a 1 ms step of
the tutorial's MLP into 6-24 ms of thread-pool waiting, which would only make these tests slow.
"""

from __future__ import annotations

import asyncio
import copy
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from explorer import App
from explorer.core import (
    SCENARIO_DEFAULTS,
    GradientRecorder,
    Trainer,
    TrainingHistory,
    train_pair,
)
from explorer.panels import TrainingPanel
from explorer.panels.train import BOUNDS, COMPUTE_BUDGET
from explorer.plots.curves import CurvesView, run_curves
from explorer.plots.style import format_number
from explorer.plots.train import LayerNormsView
from tests.conftest import REPO

RNN_NAMES = (
    "rnn.weight_ih_l0",
    "rnn.weight_hh_l0",
    "rnn.bias_ih_l0",
    "rnn.bias_hh_l0",
    "out.weight",
    "out.bias",
)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def panel() -> TrainingPanel:
    return TrainingPanel()


def _warm_torch_optim() -> None:
    """Build one optimizer: torch imports torch._dynamo on the first one in a process (1-1.5 s;
    see test_first_start_does_not_hold_the_kernel), which is not what the timing tests measure."""
    Trainer("regression", clip_method="value", steps=1)


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def _same_run(panel_run: TrainingHistory, core_run: TrainingHistory) -> bool:
    return (
        _equal(panel_run.losses, core_run.losses)
        and _equal(panel_run.grad_norms, core_run.grad_norms)
        and _equal(panel_run.param_grad_norms, core_run.param_grad_norms)
        and panel_run.stop_reason == core_run.stop_reason
    )


def _run_at(panel: TrainingPanel, **values: object) -> tuple[TrainingHistory, TrainingHistory]:
    """Set controls as the browser would (one message each), click Start with no event loop."""
    for name, value in values.items():
        panel.controls[name].value = value
    panel.start_button.click()
    unclipped, clipped = panel.histories
    assert unclipped is not None
    assert clipped is not None
    return unclipped, clipped


def _limits_finite(figure: Figure) -> bool:
    return all(
        math.isfinite(limit) for ax in figure.axes for limit in (*ax.get_xlim(), *ax.get_ylim())
    )


# -- a run to the end without an event loop ---------------------------------------------------


def test_start_without_a_loop_trains_the_tutorial_pair(panel: TrainingPanel) -> None:
    """The defaults are the tutorial's (article 002: momentum SGD, lr 0.07, value clipping at
    1.0, 400 steps, seed 0). Start with no running loop trains to the end before it returns, with
    the same core as ``train_pair``, so the histories are equal to the bit. The tutorial's
    targets (standard deviation ~150) make the unclipped run overflow within a few steps."""
    assert {name: panel.controls[name].value for name in ("optimizer", "lr", "steps")} == {
        "optimizer": "momentum",
        "lr": 0.07,
        "steps": 400,
    }
    assert "Ready: press Start" in panel.status.value
    assert panel.stop_button.disabled
    panel.stop_button.click()  # nothing runs: nothing happens
    assert panel.histories == (None, None)
    assert panel.start_button.click() is None  # a click trains to the end here
    assert panel.task is None
    unclipped, clipped = panel.histories
    core_unclipped, core_clipped = train_pair(
        "regression", clip_method="value", clip_threshold=1.0, seed=0
    )
    assert _same_run(unclipped, core_unclipped)
    assert _same_run(clipped, core_clipped)
    step = core_unclipped.first_nonfinite_step
    assert step is not None
    assert step < 10  # "within a few steps"
    assert unclipped.first_nonfinite_step == step
    assert unclipped.stop_reason == "diverged"
    assert unclipped.steps == step + 1  # the non-finite step is recorded, its update not applied
    assert (clipped.stop_reason, clipped.steps, clipped.first_nonfinite_step) == (
        "completed",
        400,
        None,
    )
    assert clipped.clip_count == 400  # value clipping at 1 fires on every step of this run
    assert f"the unclipped run went non-finite at step {step}" in panel.status.value
    assert "the clipped run stayed finite" in panel.status.value
    assert f"<b>non-finite at step {step}</b>" in panel.readout.value
    assert "completed 400 steps" in panel.readout.value
    assert "clipped (value at 1)" in panel.readout.value
    assert panel.progress.value == panel.progress.max == 400
    assert not panel.step_slider.disabled
    assert panel.step_slider.max == 399  # the last recorded step
    assert panel.step_slider.value == step - 1  # the unclipped run's last finite step
    assert panel.start_button.description == "Start"
    assert panel.stop_button.disabled
    assert not panel.running
    assert panel.stats["chunks"] > 1  # trained in slices even without a loop


# -- a run in an event loop, as in a kernel ---------------------------------------------------


def test_run_in_a_loop_grows_the_plots_and_stop_ends_it(panel: TrainingPanel) -> None:
    """In a running loop Start returns at once and a task trains in slices, repainting every
    0.2 s: the histories and the plotted lines grow while it runs. Stop ends it after the
    current slice (~40 ms). The stopped clipped run is the first N steps of the full run (same
    seed, same batches); the unclipped run had already diverged."""
    _warm_torch_optim()
    panel.controls["steps"].value = 5000  # ~4 s at 1 torch thread: Stop comes well before

    async def scenario() -> dict[str, object]:
        panel.start_button.click()
        assert isinstance(panel.task, asyncio.Task)
        assert not panel.task.done()
        assert panel.histories == (None, None)
        assert panel.running
        assert not panel.stop_button.disabled
        assert panel.start_button.disabled  # Start waits for Stop; Stop is live and red
        assert panel.stop_button.button_style == "danger"
        assert panel.status.value.endswith("Training… step 0 of 5000.</span>")
        seen: list[tuple[int, int, int]] = []
        deadline = time.perf_counter() + 5.0
        while len({s[0] for s in seen}) < 3 and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
            clipped = panel.histories[1]
            if clipped is not None:
                loss = panel.loss_view.lines["clipped"].get_xdata()
                norm = panel.norm_view.lines["clipped"].get_xdata()
                assert len(loss) == len(norm)
                seen.append((clipped.steps, len(loss), panel.progress.value))
        assert not panel.task.done()
        at_click = panel.trainers[1].steps_done
        panel.stop_button.click()
        await panel.task
        return {"seen": seen, "after_stop": panel.trainers[1].steps_done - at_click}

    observed = asyncio.run(scenario())
    seen = observed["seen"]
    steps_seen = sorted({s[0] for s in seen})
    assert len(steps_seen) >= 3, seen  # three repaints, each with more steps
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)  # only ever grows
    for steps, points, progress in seen:
        assert points == steps == progress  # the line has one point per recorded step
    # the click is served between slices (the loop is single-threaded): no step after it
    assert observed["after_stop"] == 0
    unclipped, clipped = panel.histories
    assert unclipped.stop_reason == "diverged"  # done before Stop: it keeps its reason
    assert clipped.stop_reason == "stopped"
    assert steps_seen[-1] <= clipped.steps < 5000
    assert panel.status.value.endswith(f"Stopped after {clipped.steps} steps.</span>")
    assert f"stopped after {clipped.steps} steps" in panel.readout.value
    assert panel.progress.value == clipped.steps
    assert len(panel.loss_view.lines["clipped"].get_xdata()) == clipped.steps
    assert panel.step_slider.max == clipped.steps - 1
    assert not panel.step_slider.disabled
    assert panel.start_button.description == "Start"
    assert panel.stop_button.disabled
    full = Trainer("regression", clip_method="value", clip_threshold=1.0, steps=5000, seed=0)
    full.advance(clipped.steps)
    assert _equal(full.history().losses, clipped.losses)


def test_kernel_stays_responsive_during_a_run(panel: TrainingPanel) -> None:
    """A coroutine that asks to wake every 1 ms plays the kernel's other work (Stop, the other
    tabs, the browser's messages): it is served in every pause between two slices of the run,
    whatever a slice costs on this machine (its timer expires before the run's 2 ms pause does,
    so the loop runs it first). How late it wakes is a time: benchmarks/bench_training.py
    measures it."""
    _warm_torch_optim()
    panel.controls["steps"].value = 5000  # at least 13 slices: a slice at most doubles
    seen: list[int] = []  # the slices done, each time the other work is served

    async def scenario() -> int:
        running = True

        async def watchdog() -> None:
            while running:
                await asyncio.sleep(0.001)
                seen.append(panel.stats["chunks"])

        watcher = asyncio.get_running_loop().create_task(watchdog())
        panel.start_button.click()
        deadline = time.perf_counter() + 60.0  # a bound on the wait, not an expected speed
        while panel.stats["chunks"] < 20 and not panel.task.done():
            assert time.perf_counter() < deadline, panel.stats
            await asyncio.sleep(0.01)
        panel.stop_button.click()
        await panel.task
        running = False
        await watcher
        return panel.stats["chunks"]

    slices = asyncio.run(scenario())
    assert slices >= 13
    served = {count for count in seen if 1 <= count <= slices}
    # served after every slice; the last pause may be the one in which Stop ends the run
    assert len(served) >= slices - 1, (slices, sorted(served))
    assert panel.histories[1].steps == panel.trainers[1].steps_done > 0  # it trained meanwhile


def test_restart_while_running_drops_the_first_run(panel: TrainingPanel) -> None:
    """A second Start while the first run trains cancels the first task; the histories, status
    and readout are the second run's (seed 3, 40 steps), equal to ``train_pair`` at those
    settings, and stay so after the cancelled task has ended."""
    _warm_torch_optim()
    panel.controls["steps"].value = 5000

    async def scenario() -> tuple[asyncio.Task, asyncio.Task]:
        panel.start_button.click()
        first = panel.task
        await asyncio.sleep(0.3)
        assert not first.done()
        panel.controls["seed"].value = 3
        panel.controls["steps"].value = 40
        assert "new settings apply at the next Start" in panel.status.value
        assert panel.start_button.disabled
        panel.start_button.click()  # a forged click on the disabled button changes nothing
        assert panel.task is first
        panel.start()  # from Python, a second start replaces the first
        second = panel.task
        assert second is not first
        await second
        await asyncio.gather(first, return_exceptions=True)
        await asyncio.sleep(0.02)
        return first, second

    first, second = asyncio.run(scenario())
    assert first.cancelled()
    assert second.done()
    assert not second.cancelled()
    unclipped, clipped = panel.histories
    assert (clipped.seed, clipped.steps_requested, clipped.steps) == (3, 40, 40)
    assert clipped.stop_reason == "completed"
    core_unclipped, core_clipped = train_pair(
        "regression", clip_method="value", clip_threshold=1.0, seed=3, steps=40
    )
    assert _same_run(unclipped, core_unclipped)
    assert _same_run(clipped, core_clipped)
    assert panel.progress.max == panel.progress.value == 40
    assert panel.step_slider.max == 39
    assert "Done:" in panel.status.value
    assert "completed 40 steps" in panel.readout.value


# -- after a run: scrubbing, and inf/NaN as data ----------------------------------------------


def test_step_slider_scrubs_the_readout_and_the_layer_bars(panel: TrainingPanel) -> None:
    """Moving the step slider to k shows step k's loss and gradient norm (``format_number``) for
    each run that has a step k, and each tensor's gradient norm at k as a bar from the axis's
    left edge to log10 of the norm. Once drawn, scrubbing only repaints the data (blitting):
    the layer view's x axis covers every step of both runs."""
    unclipped, clipped = _run_at(panel, steps=60)
    panel.figure.canvas.draw()
    panel.layer_figure.canvas.draw()
    full_draws = (panel.redrawer.full_draws, panel.layer_redrawer.full_draws)
    k = 2
    panel.step_slider.value = k
    readout = panel.readout.value
    for run in (unclipped, clipped):
        loss, norm = format_number(float(run.losses[k])), format_number(float(run.grad_norms[k]))
        assert f"step {k}: loss {loss}, ‖∇L‖ {norm}" in readout
    low = panel.layer_view.ax.get_xlim()[0]
    assert math.isfinite(low)
    assert low == math.floor(low)
    for name, run in (("unclipped", unclipped), ("clipped", clipped)):
        bars = panel.layer_view.bars[name]
        assert len(bars) == len(run.names) == 4
        widths = [bar.get_width() for bar in bars]
        np.testing.assert_allclose(widths, np.log10(run.param_grad_norms[k]) - low, rtol=1e-12)
        assert all(bar.get_x() == low for bar in bars)
    assert panel.loss_view.cursor.get_visible()
    assert list(panel.loss_view.cursor.get_xdata()) == [k, k]
    assert (panel.redrawer.full_draws, panel.layer_redrawer.full_draws) == full_draws
    assert panel.redrawer.blits >= 1
    assert panel.layer_redrawer.blits >= 1
    # beyond the last step, with the max forged too: clamped to the last recorded step (59), the
    # max put back, and said; the unclipped run has no step there
    panel.step_slider.max = 10**9
    panel.step_slider.value = 10**9
    assert panel.step_slider.value == panel.step_slider.max == 59
    assert "inspect step 1e+09 is outside 0–59; using 59." in panel.status.value
    readout = panel.readout.value
    loss = format_number(float(clipped.losses[59]))
    assert f"step 59: loss {loss}" in readout
    assert readout.count("step 59:") == 1
    assert all(bar.get_width() == 0.0 for bar in panel.layer_view.bars["unclipped"])
    np.testing.assert_allclose(
        [bar.get_width() for bar in panel.layer_view.bars["clipped"]],
        np.log10(clipped.param_grad_norms[59]) - low,
        rtol=1e-12,
    )


def test_divergence_is_drawn_as_data(panel: TrainingPanel) -> None:
    """The unclipped run's inf loss and gradient are gaps in the lines (log10 NaN), a dashed
    line and a cross mark its first non-finite step (the cross at the top of the axis), every
    axis limit stays finite and both figures render. Scrubbed to that step, the layer view
    writes the non-finite tensor norms as text and draws no bar for them."""
    unclipped = _run_at(panel, steps=60)[0]
    step = unclipped.first_nonfinite_step
    assert step is not None
    assert not np.isfinite(unclipped.losses[step])
    assert not np.isfinite(unclipped.grad_norms[step])
    for view, quantity in ((panel.loss_view, "losses"), (panel.norm_view, "grad_norms")):
        cross = view.crosses["unclipped"]
        assert cross.get_visible()
        assert list(cross.get_xdata()) == [step]
        assert list(cross.get_ydata()) == [view.ax.get_ylim()[1]]
        assert view.diverged["unclipped"].get_visible()
        assert list(view.diverged["unclipped"].get_xdata()) == [step, step]
        assert not view.crosses["clipped"].get_visible()
        assert not view.diverged["clipped"].get_visible()
        y = view.lines["unclipped"].get_ydata()
        assert len(y) == step + 1
        assert np.isnan(y[step])
        assert np.isfinite(y[:step]).all()
        values = getattr(unclipped, quantity)[:step]
        np.testing.assert_allclose(y[:step], np.log10(values), rtol=1e-12)
    assert _limits_finite(panel.figure)
    assert _limits_finite(panel.layer_figure)
    panel.figure.canvas.draw()
    panel.layer_figure.canvas.draw()
    panel.step_slider.value = step
    raw = unclipped.param_grad_norms[step]
    assert not np.isfinite(raw).all()
    flags = [flag.get_text() for flag in panel.layer_view.flags[: len(raw)]]
    for value, flag, bar in zip(raw, flags, panel.layer_view.bars["unclipped"], strict=True):
        if np.isfinite(value):
            assert flag == ""
            assert bar.get_width() > 0
        else:
            assert flag == str(value)
            assert bar.get_width() == 0.0
    assert f"step {step}: loss inf, ‖∇L‖ inf" in panel.readout.value
    assert _limits_finite(panel.layer_figure)
    panel.layer_figure.canvas.draw()


# -- the scenario and the controls --------------------------------------------------------------


def test_scenario_switch_loads_its_defaults(panel: TrainingPanel) -> None:
    """Choosing a scenario loads its ``SCENARIO_DEFAULTS``; the sequence length applies only to
    the recurrent scenario, so its slider is enabled only there."""
    assert panel.controls["seq_len"].disabled
    for name in ("adding", "regression"):
        panel.controls["scenario"].value = name
        defaults = SCENARIO_DEFAULTS[name]
        for control in ("optimizer", "lr", "clip_method", "clip_threshold", "steps"):
            assert panel.controls[control].value == getattr(defaults, control), (name, control)
        assert panel.controls["seq_len"].disabled == (name != "adding")
        assert "Ready: press Start" in panel.status.value
    assert panel.controls["seq_len"].value == SCENARIO_DEFAULTS["adding"].seq_len == 100


def test_small_adding_run_shows_the_rnn_tensors(panel: TrainingPanel) -> None:
    """The recurrent scenario at 20 steps of T = 20: the histories are ``train_pair``'s at those
    settings (global-norm clipping at 1, plain SGD at lr 0.05), recorded per tensor of the RNN
    and its read-out, and the layer view has one row (two bars) per tensor."""
    panel.controls["scenario"].value = "adding"
    unclipped, clipped = _run_at(panel, steps=20, seq_len=20)
    core_unclipped, core_clipped = train_pair("adding", steps=20, seq_len=20, seed=0)
    assert core_clipped.clip_method == "global_norm"
    assert core_clipped.optimizer == "sgd"
    assert _same_run(unclipped, core_unclipped)
    assert _same_run(clipped, core_clipped)
    assert unclipped.names == clipped.names == RNN_NAMES
    assert (unclipped.seq_len, clipped.steps, clipped.stop_reason) == (20, 20, "completed")
    assert panel.layer_view.names == RNN_NAMES
    assert len(panel.layer_view.bars["unclipped"]) == len(panel.layer_view.bars["clipped"]) == 6
    labels = [label.get_text() for label in panel.layer_view.ax.get_yticklabels()]
    assert labels == list(RNN_NAMES)
    assert "clipped (global_norm at 1)" in panel.readout.value
    panel.layer_figure.canvas.draw()


def test_tampered_steps_slider_is_clamped_and_restored(panel: TrainingPanel) -> None:
    """A client can set a slider's max through the widget protocol: 10⁶ steps is clamped to the
    panel's ``BOUNDS`` (5000), the widget's max is put back, the status line says so."""
    steps = panel.controls["steps"]
    steps.max = 10**6
    steps.value = 10**6
    assert BOUNDS["steps"].high == 5000
    assert (steps.value, steps.min, steps.max) == (5000, 10, 5000)
    assert "steps 1,000,000 is outside 10–5,000; using 5,000." in panel.status.value
    assert "color:#9a6700" in panel.status.value  # the warning colour
    assert panel.result.steps == 5000


def test_learning_rate_nan_and_out_of_range(panel: TrainingPanel) -> None:
    """NaN is not a number the panel can use: the default (0.07) is put back. A tampered slider
    (its max raised to 1e5) is clamped to 10, the top of ``BOUNDS['lr']``, and its range
    restored to [1e-4, 10]; the low end likewise to 1e-4."""
    lr = panel.controls["lr"]
    lr.value = math.nan
    assert lr.value == 0.07
    assert "learning rate nan is outside 0.0001–10; using 0.07." in panel.status.value
    lr.max = 1e5
    lr.value = 1e5
    assert lr.value == 10.0
    assert lr.max == 10.0
    assert "learning rate 100,000 is outside 0.0001–10; using 10." in panel.status.value
    lr.min = 1e-8
    lr.value = 1e-8
    assert lr.value == 1e-4
    assert lr.min == 1e-4
    assert "learning rate 1e-08 is outside" in panel.status.value
    assert panel.result.clipped.settings["lr"] == 1e-4


def test_over_budget_start_does_not_train(panel: TrainingPanel) -> None:
    """steps × T = 5000 × 300 = 1.5 million is beyond the budget of 300,000 (about a minute of
    training): the status line says so and suggests steps ≤ 300,000 / 300 = 1000; Start neither
    trains nor starts a task, and the last runs stay."""
    unclipped, clipped = _run_at(panel, steps=20)
    panel.controls["scenario"].value = "adding"
    panel.controls["seq_len"].value = 300
    assert "press Start to train with these settings" in panel.status.value  # 90,000 fits
    panel.controls["steps"].value = 5000
    assert COMPUTE_BUDGET == 300_000 < 5000 * 300
    status = panel.status.value
    assert "steps 5000 × T 300 = 1,500,000 is beyond" in status
    assert "compute budget of 300,000" in status
    assert "at T = 300 use steps ≤ 1000" in status

    async def click() -> bool:
        return panel.start()

    assert asyncio.run(click()) is False
    panel.start_button.click()
    assert panel.task is None
    assert panel.histories[0] is unclipped
    assert panel.histories[1] is clipped
    assert panel.progress.value == panel.progress.max == 20
    assert panel.start_button.description == "Start"
    assert "is beyond" in panel.status.value


def test_set_state_to_the_recurrent_scenario_enables_seq_len(panel: TrainingPanel) -> None:
    """``set_state`` is the Python way to set several controls with one refresh; the sequence
    length slider must be usable whenever the scenario is "adding", however it was chosen."""
    panel.set_state({"scenario": "adding", "seq_len": 20, "steps": 20})
    assert panel.controls["scenario"].value == "adding"
    assert not panel.controls["seq_len"].disabled


def test_first_start_imports_nothing_heavy() -> None:
    """In a fresh kernel (a fresh process: the served page), torch.optim's first optimizer imports
    torch._dynamo (1-1.5 s here). Building the panel does that import, so the first Start click
    (one kernel callback) does not: the module is loaded before the click."""
    script = (
        "import asyncio, sys\n"
        "from explorer import App\n"
        "panel = App().panel('training')\n"
        "print('torch._dynamo' in sys.modules)\n"
        "async def main():\n"
        "    panel.start_button.click()\n"
        "    panel.stop_button.click()\n"
        "    await panel.task\n"
        "    print(panel.histories[1] is not None)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split() == ["True", "True"]


def test_app_builds_the_training_lab_on_demand() -> None:
    app = App()
    titles = list(app.tabs.titles)
    assert "Training lab" in titles
    assert "Training lab" not in app.panels
    lab = app.panel("training")
    assert isinstance(lab, TrainingPanel)
    assert app.tabs.children[titles.index("Training lab")].children == (lab,)
    app.tabs.selected_index = titles.index("Training lab")
    assert app.panels["training"] is lab  # built once
    assert lab.histories == (None, None)  # nothing trains until Start
    assert "Ready: press Start" in lab.status.value


# -- the views on their own, fed a foreign model's recorder -----------------------------------


def test_views_draw_a_foreign_models_history() -> None:
    """Lesson 5's use: a hand-written loop on a model the explorer did not build, watched by
    ``GradientRecorder`` (one copy unclipped, one clipped to global norm 1), drawn into a plain
    Agg figure. Step 5's gradient gets an inf injected (the loop skips that update, as a guarded
    loop would): each line is log10 of the recorded values with a gap (NaN) there, the cross and
    the dashed line sit at step 5, the threshold line at log10(1) = 0, and the figure renders."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
        ).double()
    models = {"unclipped": model, "clipped": copy.deepcopy(model)}
    recorders = {
        "unclipped": GradientRecorder(models["unclipped"]),
        "clipped": GradientRecorder(
            models["clipped"], clip_method="global_norm", clip_threshold=1.0
        ),
    }
    optimizers = {name: torch.optim.SGD(m.parameters(), lr=0.1) for name, m in models.items()}
    data = torch.Generator().manual_seed(1)
    x = torch.randn(32, 4, generator=data, dtype=torch.float64)
    y = 10 * torch.randn(32, 1, generator=data, dtype=torch.float64)
    steps, bad = 12, 5
    for step in range(steps):
        for name, m in models.items():
            optimizers[name].zero_grad()
            loss = torch.nn.functional.mse_loss(m(x), y)
            loss.backward()
            if step == bad:
                m[0].weight.grad[0, 0] = math.inf
            norm = recorders[name].record(loss.detach())
            if math.isfinite(norm):
                optimizers[name].step()
    unclipped, clipped = (recorders[name].history() for name in ("unclipped", "clipped"))
    assert unclipped.names == ("0.weight", "0.bias", "2.weight", "2.bias")
    for run in (unclipped, clipped):
        assert run.steps == steps
        assert run.first_nonfinite_step == bad
        assert math.isinf(run.grad_norms[bad])
        assert math.isinf(run.param_grad_norms[bad, 0])
        assert np.isfinite(np.delete(run.grad_norms, bad)).all()
    assert clipped.clip_count > 0

    figure = Figure(figsize=(9, 3))
    FigureCanvasAgg(figure)
    loss_ax, norm_ax, layer_ax = figure.subplots(1, 3)
    loss_view = CurvesView(loss_ax, "loss", "loss", marks=True)
    norm_view = CurvesView(norm_ax, "‖∇L‖", "‖∇L‖", legend=False, marks=True)
    layer_view = LayerNormsView(layer_ax)
    threshold = clipped.clip_threshold  # global_norm: a norm the clipped run was held to
    loss_view.update(run_curves(unclipped, clipped, "losses", cursor=3, steps=steps))
    norm_view.update(
        run_curves(unclipped, clipped, "grad_norms", threshold=threshold, cursor=3, steps=steps)
    )
    layer_view.update(unclipped, clipped, bad)

    for view, quantity in ((loss_view, "losses"), (norm_view, "grad_norms")):
        for name, run in (("unclipped", unclipped), ("clipped", clipped)):
            values = getattr(run, quantity)
            expected = np.full(steps, np.nan)
            finite = np.isfinite(values)
            expected[finite] = np.log10(values[finite])
            line = view.lines[name]
            np.testing.assert_array_equal(line.get_xdata(), np.arange(steps))
            np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12)
            assert list(view.crosses[name].get_xdata()) == [bad]
            assert view.crosses[name].get_visible()
            assert list(view.diverged[name].get_xdata()) == [bad, bad]
        assert list(view.cursor.get_xdata()) == [3, 3]
    assert np.isfinite(loss_view.lines["unclipped"].get_ydata()[bad])  # the loss stayed finite
    assert norm_view.threshold.get_visible()
    assert list(norm_view.threshold.get_ydata()) == [0, 0]
    assert not loss_view.threshold.get_visible()  # a loss has no clip threshold

    low = layer_ax.get_xlim()[0]
    for name, run in (("unclipped", unclipped), ("clipped", clipped)):
        widths = [bar.get_width() for bar in layer_view.bars[name]]
        assert widths[0] == 0.0  # the inf tensor: no bar, its value written instead
        np.testing.assert_allclose(widths[1:], np.log10(run.param_grad_norms[bad, 1:]) - low)
    assert [flag.get_text() for flag in layer_view.flags] == ["inf", "", "", ""] * 2
    assert _limits_finite(figure)
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())
    assert (pixels[..., :3] < 250).any()  # something was drawn
