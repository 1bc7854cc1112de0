"""The training lab: unclipped and clipped training side by side, watched while it runs.

Start trains two copies of a scenario's network from the same initial weights on the same
batches, one without clipping and one with the chosen clip method. Training runs in chunks of
about ``CHUNK_SECONDS`` that yield to the kernel between them, so the Stop button, the other tabs
and the browser's messages are served while it runs; the plots are repainted every
``DRAW_SECONDS``. Afterwards the step slider scrubs each tensor's gradient norm.

In a kernel (JupyterLab, Voilà) training is an asyncio task on the kernel's event loop. Without a
running loop (a plain script) Start trains to the end before it returns.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl
from matplotlib.figure import Figure

from explorer.core import (
    METHODS,
    NORM_METHODS,
    OPTIMIZERS,
    SCENARIO_DEFAULTS,
    Trainer,
    TrainingHistory,
)
from explorer.core.train import prepare_torch
from explorer.panels.base import Bounds, Cost, Panel, Params, make_figure
from explorer.panels.controls import (
    SEED_BOUNDS,
    STYLE,
    THRESHOLD_BOUNDS,
    WIDE,
    dropdown,
    int_slider,
    log_slider,
    seed_box,
)
from explorer.panels.figures import canvas_of
from explorer.panels.help import training_buttons
from explorer.panels.help_text import START, STOP_OFF
from explorer.panels.redraw import Redrawer
from explorer.panels.snippet import call, printed, shown, snippet_text
from explorer.panels.values import JSONValue
from explorer.panels.written import readout_table
from explorer.plots.curves import CurvesView, run_curves
from explorer.plots.style import FONT_SIZE, format_number
from explorer.plots.train import LayerNormsView

log = logging.getLogger(__name__)

CHUNK_SECONDS = 0.04  # training per slice of kernel time; a repaint takes another slice
DRAW_SECONDS = 0.2  # repaint the live plots at most this often
YIELD_SECONDS = 0.002  # a real (not zero) sleep lets the kernel poll its sockets
MAX_CHUNK = 500
# steps x T of the recurrent scenario: about 11 ms per step per run at T = 100, hidden 64, so
# 300,000 (T 100 x 3000 steps) trains the two runs in about a minute
COMPUTE_BUDGET = 300_000
BOUNDS = {
    "lr": Bounds(1e-4, 10.0),
    "clip_threshold": THRESHOLD_BOUNDS,
    "steps": Bounds(10, 5000, integer=True),
    "seq_len": Bounds(2, 300, integer=True),
    "seed": SEED_BOUNDS,
}
SCENARIO_LABELS = [(defaults.title, name) for name, defaults in SCENARIO_DEFAULTS.items()]
ADDING_SEQ_LEN = SCENARIO_DEFAULTS["adding"].seq_len or 100
DEFAULT_SCENARIO = "regression"


def _scenario_values(name: str) -> dict[str, JSONValue]:
    """The controls' values for a scenario's defaults (none for a name that is no scenario)."""
    defaults = SCENARIO_DEFAULTS.get(name)
    if defaults is None:
        return {}
    values: dict[str, JSONValue] = {
        "optimizer": defaults.optimizer,
        "lr": defaults.lr,
        "clip_method": defaults.clip_method,
        "clip_threshold": defaults.clip_threshold,
        "steps": defaults.steps,
    }
    if defaults.seq_len is not None:
        values["seq_len"] = defaults.seq_len
    return values


def _controls() -> dict[str, widgets.ValueWidget]:
    values = _scenario_values(DEFAULT_SCENARIO)
    return {
        "scenario": dropdown("scenario", SCENARIO_LABELS, DEFAULT_SCENARIO),
        "optimizer": dropdown("optimizer", OPTIMIZERS, str(values["optimizer"])),
        "lr": log_slider("learning rate", float(values["lr"]), BOUNDS["lr"], 0.05),
        "clip_method": dropdown("clip method", METHODS, str(values["clip_method"])),
        "clip_threshold": log_slider(
            "clip threshold", float(values["clip_threshold"]), BOUNDS["clip_threshold"], 0.05
        ),
        "steps": int_slider("steps", int(values["steps"]), BOUNDS["steps"]),
        "seq_len": int_slider("sequence T", ADDING_SEQ_LEN, BOUNDS["seq_len"]),
        "seed": seed_box(),
    }


@dataclass(frozen=True)
class TrainingPlan:
    """What Start trains: two runs of a scenario built by the core from the same settings (so
    from the same initial weights, on the same batches), without and with clipping."""

    scenario: str
    steps: int
    clip_method: str
    clip_threshold: float
    unclipped: Trainer
    clipped: Trainer

    @property
    def summary(self) -> str:
        settings = self.clipped.settings
        sequence = f", T = {settings['seq_len']}" if self.scenario == "adding" else ""
        return (
            f"Start trains {SCENARIO_DEFAULTS[self.scenario].title}{sequence}:"
            f" {settings['optimizer']} at learning rate {format_number(settings['lr'])},"
            f" {self.steps} steps, seed {self.clipped.seed}; the clipped run applies"
            f" {self.clip_method} clipping at {format_number(self.clip_threshold)}."
        )


def plan_training(params: Params) -> TrainingPlan:
    """Both runs for the controls' ``params`` (the core checks every setting)."""
    settings = {
        "optimizer": params["optimizer"],
        "lr": params["lr"],
        "steps": params["steps"],
        "seed": params["seed"],
        "clip_threshold": params["clip_threshold"],
    }
    if params["scenario"] == "adding":
        settings["seq_len"] = params["seq_len"]
    return TrainingPlan(
        params["scenario"],
        params["steps"],
        params["clip_method"],
        params["clip_threshold"],
        Trainer(params["scenario"], clip_method=None, **settings),
        Trainer(params["scenario"], clip_method=params["clip_method"], **settings),
    )


class TrainingPanel(Panel[TrainingPlan]):
    """Unclipped versus clipped training of a real network, live, with a Stop button."""

    key, title = "training", "Training lab"
    budget = COMPUTE_BUDGET
    transient = frozenset({"step"})  # a link brings back the settings, not a run
    figure_names = ("loss and gradient norm", "tensor norms")  # what the export calls them

    def __init__(self, **kwargs: Any) -> None:
        prepare_torch()
        with mpl.rc_context({"font.size": FONT_SIZE}):
            # two canvases: each full draw (a callback of its own) stays under 100 ms
            self.figure = make_figure(8.2, 5.4, right=0.9)
            self.loss_view = CurvesView(
                self.figure.add_axes((0.1, 0.6, 0.78, 0.33)),
                "Training loss",
                "loss",
                marks=True,
                placeholder="press Start to train both runs",
            )
            self.norm_view = CurvesView(
                self.figure.add_axes((0.1, 0.1, 0.78, 0.33)),
                "Global gradient norm before clipping",
                "‖∇L‖",
                legend=False,
                marks=True,
                placeholder="press Start to train both runs",
            )
            self.layer_figure = make_figure(3.8, 5.4)
            self.layer_view = LayerNormsView(self.layer_figure.add_axes((0.33, 0.1, 0.6, 0.83)))
        for figure in (self.figure, self.layer_figure):
            canvas_of(
                figure
            ).layout.width = "auto"  # side by side: each as wide as its figure, not 100 %
        self.redrawer = Redrawer(self.figure, [*self.loss_view.artists, *self.norm_view.artists])
        self.layer_redrawer = Redrawer(self.layer_figure, self.layer_view.artists)
        self.last_step = 0  # the last recorded step: the step slider's bound, kept here
        self.drawn_step: int | None = None  # the step the run's plots show (None: no cursor)
        self.step_slider = int_slider("inspect step", 0, Bounds(0, 0, integer=True))
        self.step_slider.disabled = True
        super().__init__(_controls(), BOUNDS, selectors={"step": self.step_slider}, **kwargs)
        self.start_button = widgets.Button(
            description="Start", button_style="primary", icon="play", tooltip=START
        )
        self.stop_button = widgets.Button(
            description="Stop", icon="stop", disabled=True, tooltip=STOP_OFF
        )
        self.progress = widgets.IntProgress(
            value=0,
            min=0,
            max=1,
            description="progress",
            style=STYLE,
            layout=widgets.Layout(width=WIDE),
        )
        self.plan_line = widgets.HTML()
        # after a run: read it in the Your run tab (grouped norms, spikes, policies replayed)
        self.diagnose_button = widgets.Button(
            description="Diagnose in Your run", icon="search", disabled=True
        )
        self.diagnose_button.on_click(
            lambda button: (
                None if button.disabled else self.open_in("run", {"source": "training-unclipped"})
            )
        )
        # a disabled button's click can still be forged by a client: it is ignored
        self.start_button.on_click(lambda button: None if button.disabled else self.start())
        self.stop_button.on_click(lambda button: None if button.disabled else self.stop())
        self.trainers: tuple[Trainer, Trainer] | None = None
        self.histories: tuple[TrainingHistory | None, TrainingHistory | None] = (None, None)
        self.task: asyncio.Task[None] | None = None
        self.stats = {"chunks": 0, "longest_slice_ms": 0.0, "draws": 0}
        self._stop_requested = False
        c = self.controls
        self.lay_out(
            "<b>Training lab</b>: the same network trained twice from the same initial"
            " weights on the same batches, without clipping (orange) and with it (blue)."
            " Press Start and watch the loss and the gradient norm; a dashed line and a cross"
            " mark the first step whose loss or gradient is inf or NaN.",
            [
                [c["scenario"], c["optimizer"], c["lr"], c["steps"]],
                [c["clip_method"], c["clip_threshold"], c["seq_len"], c["seed"]],
            ],
            actions=[
                self.start_button,
                self.stop_button,
                self.diagnose_button,
                self.progress,
                self.plan_line,
            ],
            below_figures=[self.step_slider],
        )
        self.refresh()

    def figures(self) -> list[Figure]:
        return [self.figure, self.layer_figure]

    # -- the contract: a refresh plans the runs; Start trains them ---------------------------
    def cost(self, params: Params) -> Cost:
        if params["scenario"] == "adding":
            steps, seq_len = params["steps"], params["seq_len"]
            return Cost(
                f"steps {steps} × T {seq_len}",
                steps * seq_len,
                f"at T = {seq_len} use steps ≤ {COMPUTE_BUDGET // seq_len}",
            )
        return Cost(f"steps {params['steps']}", params["steps"], "use fewer steps")

    def compute(self, params: Params) -> TrainingPlan:
        return plan_training(params)

    def selector_bounds(self, result: TrainingPlan) -> dict[str, Bounds]:
        del result
        return {"step": Bounds(0, self.last_step, integer=True)}

    def show(self, result: TrainingPlan) -> None:
        """The plan beside Start; the last run (if any) at the inspected step."""
        self.plan_line.value = f"<span style='color:#555'>{html.escape(result.summary)}</span>"
        step = int(self.step_slider.value)
        # the last run is redrawn only for another step: a setting moved changes nothing in it
        if self.histories[0] is not None and not self.running and step != self.drawn_step:
            self._update_views(cursor=step)
            self.readout.value = _readout(*self._histories(), step=step)

    def ok_message(self, result: TrainingPlan) -> str:
        del result
        if self.running:
            return "Training… (new settings apply at the next Start)"
        if self.histories[0] is not None:
            return "The plots show the last run; press Start to train with these settings."
        return "Ready: press Start to train both runs."

    def snippet(self) -> str:
        """``train_pair`` with the settings of the last run (a run stopped early: up to where
        it stopped), or, before any run, with those Start trains."""
        trainer = self.trainers[1] if self.trainers is not None else shown(self.result).clipped
        settings = trainer.settings
        steps = settings["steps"]
        histories = [run for run in self.histories if run is not None]
        if histories and any(run.stop_reason == "stopped" for run in histories):
            steps = max(run.steps for run in histories)
        arguments: dict[str, object] = {
            "clip_method": trainer.clip_method,
            "optimizer": settings["optimizer"],
            "lr": settings["lr"],
            "steps": steps,
            "seed": trainer.seed,
            "clip_threshold": settings["clip_threshold"],
        }
        if settings["seq_len"] is not None:  # the adding problem
            arguments["seq_len"] = settings["seq_len"]
        lines = [f"unclipped, clipped = {call('train_pair', arguments, trainer.scenario)}"]
        for run in ("unclipped", "clipped"):
            lines += [
                printed(f"{run}.losses", array=True),
                printed(f"{run}.grad_norms", array=True),
                printed(f"{run}.param_grad_norms", array=True),
                printed(f"{run}.first_nonfinite_step"),
                printed(f"{run}.clip_count"),
            ]
        return snippet_text(["from explorer.core import train_pair"], lines)

    def linked_values(self, name: str, value: Any) -> dict[str, JSONValue]:
        """Choosing a scenario loads its defaults."""
        return _scenario_values(value) if name == "scenario" else {}

    def disabled_reasons(self, params: Params) -> dict[str, str]:
        if params["scenario"] == "adding":
            return {}
        return {"seq_len": "for the MLP regression: only the adding problem's RNN reads sequences"}

    # -- training ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.trainers is not None and not all(t.done for t in self.trainers)

    def start(self) -> bool:
        """Start both runs from the current settings (a run in progress is stopped first).
        Returns whether training started."""
        if not self.refresh() or self.result is None:
            return False
        if self.task is not None and not self.task.done():
            self.task.cancel()  # the last Start wins; the old runs are dropped
        plan = self.result
        self.trainers = (plan.unclipped, plan.clipped)
        self._stop_requested = False
        self.stats = {"chunks": 0, "longest_slice_ms": 0.0, "draws": 0}
        self.histories = (None, None)
        self.progress.max, self.progress.value = plan.steps, 0
        self.step_slider.disabled = True
        self._set_buttons(running=True)
        self._update_views(cursor=None, layers=False)
        self.redrawer.redraw(full=True)
        self.set_status(f"Training… step 0 of {plan.steps}.", "ok")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a plain script): train to the end now
            for _ in self._slices():
                pass
            return True
        self.task = loop.create_task(self._run())
        return True

    def stop(self) -> None:
        """Ask a run in progress to end after its current chunk."""
        if self.running:
            self._stop_requested = True
            if self.task is None or self.task.done():  # nothing will see the request: end now
                self._finish()

    async def _run(self) -> None:
        try:
            for _ in self._slices():
                await asyncio.sleep(YIELD_SECONDS)
        except Exception as error:  # keep the panel usable whatever happened
            log.exception("training failed")
            self._finish()
            self.set_status(f"Training failed: {type(error).__name__}: {error}", "error")

    def _slices(self) -> Iterator[None]:
        """Train in slices of about CHUNK_SECONDS, repainting every DRAW_SECONDS; yields between
        slices (each yield is a chance for the kernel to serve other messages)."""
        assert self.trainers is not None
        trainers = self.trainers
        chunk, last_draw = 1, time.perf_counter()
        while not self._stop_requested and not all(t.done for t in trainers):
            began = time.perf_counter()
            for trainer in trainers:
                trainer.advance(chunk)
            elapsed = time.perf_counter() - began
            self._note_slice(elapsed)
            wanted = int(chunk * CHUNK_SECONDS / max(elapsed, 1e-4))
            chunk = max(1, min(MAX_CHUNK, 2 * chunk, wanted))  # grow at most twofold
            if time.perf_counter() - last_draw >= DRAW_SECONDS:
                yield
                began = time.perf_counter()
                self._show_progress()
                self._note_slice(time.perf_counter() - began)
                last_draw = time.perf_counter()
            yield
        self._finish()

    def _set_buttons(self, running: bool) -> None:
        """While a run trains Start is disabled and Stop is live (red); otherwise the reverse."""
        self.start_button.disabled = running
        self.diagnose_button.disabled = running or self.histories[0] is None
        self.start_button.tooltip, self.stop_button.tooltip = training_buttons(running)
        self.stop_button.disabled = not running
        self.stop_button.button_style = "danger" if running else ""

    def _note_slice(self, seconds: float) -> None:
        self.stats["chunks"] += 1
        self.stats["longest_slice_ms"] = max(self.stats["longest_slice_ms"], seconds * 1e3)

    def _show_progress(self) -> None:
        assert self.trainers is not None
        self.histories = (self.trainers[0].history(), self.trainers[1].history())
        done = max(t.steps_done for t in self.trainers)
        self.progress.value = done
        self._update_views(cursor=None, layers=False)
        self.set_status(f"Training… step {done} of {self.progress.max}.", "ok")

    def _finish(self) -> None:
        assert self.trainers is not None
        for trainer in self.trainers:
            trainer.stop()
        unclipped, clipped = self.trainers[0].history(), self.trainers[1].history()
        self.histories = (unclipped, clipped)
        last = max(unclipped.steps, clipped.steps) - 1
        self.progress.value = max(t.steps_done for t in self.trainers)
        self._set_buttons(running=False)
        self.last_step = max(last, 0)
        with self._silenced():
            self.step_slider.max = self.last_step
            self.step_slider.value = _inspect_at(unclipped, clipped)
        self.step_slider.disabled = last < 0
        self._update_views(cursor=self.step_slider.value)
        self.readout.value = _readout(unclipped, clipped, step=None)
        self.set_status(_finish_message(unclipped, clipped, self._stop_requested), "ok")

    # -- drawing -----------------------------------------------------------------------------
    def _histories(self) -> tuple[TrainingHistory, TrainingHistory]:
        unclipped, clipped = self.histories
        assert unclipped is not None, "a run has ended"
        assert clipped is not None, "a run has ended"
        return unclipped, clipped

    def _update_views(self, cursor: int | None, *, layers: bool = True) -> None:
        """Show the histories; ``layers`` False leaves the per-tensor view alone (while training,
        so that a repaint is one canvas's work)."""
        unclipped, clipped = self.histories
        bound = self.trainers is not None and self.trainers[1].clip_method in NORM_METHODS
        threshold = self.trainers[1].settings["clip_threshold"] if self.trainers and bound else None
        steps = self.progress.max
        self.loss_view.update(run_curves(unclipped, clipped, "losses", cursor=cursor, steps=steps))
        self.norm_view.update(
            run_curves(
                unclipped, clipped, "grad_norms", threshold=threshold, cursor=cursor, steps=steps
            )
        )
        self.redrawer.redraw()
        if layers and unclipped is not None and clipped is not None:
            names = self.layer_view.names
            last = max(unclipped.steps, clipped.steps) - 1
            self.layer_view.update(unclipped, clipped, max(last if cursor is None else cursor, 0))
            new_bars = self.layer_view.names != names
            if new_bars:
                self.layer_redrawer.set_artists(self.layer_view.artists)
            self.layer_redrawer.redraw(full=new_bars)
        self.stats["draws"] += 1
        self.drawn_step = cursor


def _inspect_at(unclipped: TrainingHistory, clipped: TrainingHistory) -> int:
    """The step to show after a run: the unclipped run's last finite step, else the last."""
    step = unclipped.first_nonfinite_step
    if step is not None:
        return max(step - 1, 0)
    return max(max(unclipped.steps, clipped.steps) - 1, 0)


def _run_row(name: str, run: TrainingHistory, step: int | None) -> list[str]:
    first = run.first_nonfinite_step
    ended = {
        "completed": f"completed {run.steps} steps",
        "diverged": f"<b>non-finite at step {first}</b>",
        "stopped": f"stopped after {run.steps} steps",
        "running": f"{run.steps} steps so far",
    }[run.stop_reason]
    finite_losses = run.losses[: first if first is not None else run.steps]
    final = format_number(float(finite_losses[-1])) if finite_losses.size else "–"
    cells = [
        name,
        ended,
        f"last finite loss {final}",
        f"largest ‖∇L‖ {format_number(run.largest_grad_norm)}",
        f"first ‖∇L‖ {format_number(float(run.grad_norms[0]))}" if run.steps else "",
        f"clipped on {run.clip_count} steps" if run.clip_method else "",
    ]
    if step is not None and step < run.steps:
        cells.append(
            f"step {step}: loss {format_number(float(run.losses[step]))},"
            f" ‖∇L‖ {format_number(float(run.grad_norms[step]))}"
        )
    return cells


def _readout(unclipped: TrainingHistory, clipped: TrainingHistory, step: int | None = None) -> str:
    return readout_table(
        cell_style="padding-right:14px",
        rows=[
            _run_row("unclipped", unclipped, step),
            _run_row(
                f"clipped ({clipped.clip_method} at {format_number(clipped.clip_threshold or 0)})",
                clipped,
                step,
            ),
        ],
    )


def _finish_message(unclipped: TrainingHistory, clipped: TrainingHistory, stopped: bool) -> str:
    if stopped:
        return f"Stopped after {max(unclipped.steps, clipped.steps)} steps."
    words = []
    for name, run in (("unclipped", unclipped), ("clipped", clipped)):
        step = run.first_nonfinite_step
        words.append(
            f"the {name} run went non-finite at step {step}"
            if step is not None
            else f"the {name} run stayed finite"
        )
    return "Done: " + ", ".join(words) + ". Move the step slider to inspect a step."
