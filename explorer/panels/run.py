"""Your run: a practitioner's recording, read for where it went wrong and replayed under policies.

The run comes from a file a ``GradientRecorder`` saved (uploaded here), from the Training lab's
last run, or from the example: the tanh RNN of the adding problem trained without clipping,
which goes non-finite. The figure shows every tensor's gradient norm at every step (grouped by
module, sorted as chosen), the global norm and the loss with spikes and the first inf/NaN marked,
and what each clipping policy would have done at each step (``explorer.core.replay``).
"""

from __future__ import annotations

import functools
import html
import io
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from explorer.core import (
    AutoClip,
    GlobalNormClip,
    GradientHistory,
    Replay,
    SkipAboveThreshold,
    SpikeDetection,
    ZClip,
    replay_clipping,
    train,
)
from explorer.core.diagnose import SORTS, TensorOrder, order_tensors, spike_onsets
from explorer.core.policies import ACTIONS, Policy
from explorer.core.replay import total_movement
from explorer.core.train import prepare_torch
from explorer.panels.base import Bounds, Panel, Params, make_figure
from explorer.panels.controls import (
    THRESHOLD_BOUNDS,
    dropdown,
    float_slider,
    int_slider,
    log_slider,
)
from explorer.panels.redraw import Redrawer
from explorer.panels.snippet import snippet_text
from explorer.panels.written import readout_table
from explorer.plots.run import ReplayView, RunCurvesView, TensorHeatmapView, movement_text
from explorer.plots.style import FONT_SIZE, HIGHLIGHT, format_number

# the largest recording read (300 tensors x 2000 steps is 19 MB); the server takes websocket
# messages up to explorer.serving.settings.MAX_MESSAGE_BYTES, this and the message's envelope
MAX_UPLOAD_BYTES = 64 * 2**20
EXAMPLE = "example"
SOURCES = [
    ("Example: tanh RNN on the adding problem, unclipped", EXAMPLE),
    ("Training lab: its last unclipped run", "training-unclipped"),
    ("Training lab: its last clipped run", "training-clipped"),
    ("Your file (upload a .npz recording)", "upload"),
]
# how deep a module name is cut to group tensors ("0": not cut, each tensor's own module)
GROUPS = [
    ("automatic", "auto"),
    *((f"{n} level{'s' if n > 1 else ''} of the name", str(n)) for n in (1, 2, 3, 4)),
    ("each tensor's module", "0"),
]
BOUNDS = {
    "threshold": THRESHOLD_BOUNDS,
    "window": Bounds(1, 1000, integer=True),
    "rtol": Bounds(0.05, 100.0),
    "warmup": Bounds(1, 1000, integer=True),
    "z_thresh": Bounds(0.5, 10.0),
    "percentile": Bounds(0.0, 100.0),
    "skip_limit": THRESHOLD_BOUNDS,
}
TOP_TENSORS = 5  # the largest tensors written out at the inspected step


@functools.cache
def example_run() -> GradientHistory:
    """The example: the adding problem's RNN trained without clipping (the Training lab's
    recurrent scenario, seed 0); it goes non-finite at step 32."""
    return train("adding", clip_method=None)


@dataclass(frozen=True)
class RunDiagnosis:
    """A recording read: its tensors' order, each tensor's first spike, the global spikes and
    the replay under the chosen policies."""

    source: str  # what the run is, in words
    history: GradientHistory
    order: TensorOrder
    onsets: npt.NDArray[np.int64]  # (tensors,) each tensor's first spike step, -1: none
    spikes: np.ndarray  # the steps the spike detector flags on the global norm
    replay: Replay

    @property
    def first_nonfinite(self) -> int | None:
        return self.history.first_nonfinite_step


def policies_for(params: Params) -> list[Policy]:
    """The policies replayed, from the controls' values."""
    return [
        GlobalNormClip(params["threshold"]),
        SpikeDetection(window=params["window"], warmup=params["warmup"], rtol=params["rtol"]),
        ZClip(z_thresh=params["z_thresh"], warmup_steps=params["warmup"], max_grad_norm=None),
        AutoClip(percentile=params["percentile"]),
        SkipAboveThreshold(params["skip_limit"]),
    ]


def diagnose(source: str, history: GradientHistory, params: Params) -> RunDiagnosis:
    """Read ``history`` with the controls' ``params``."""
    if history.steps == 0 or not history.names:
        raise ValueError("source: this recording holds no steps or no tensors; nothing to show")
    policies = policies_for(params)
    detector = policies[1]
    assert isinstance(detector, SpikeDetection)
    depth = None if params["group"] == "auto" else int(params["group"])
    replay = replay_clipping(history, policies)
    return RunDiagnosis(
        source=source,
        history=history,
        order=order_tensors(history, params["sort"], depth, detector),
        onsets=spike_onsets(history.param_grad_norms, detector),
        spikes=np.flatnonzero(replay.policies[1].trace.actions == ACTIONS.index("skip")),
        replay=replay,
    )


class RunPanel(Panel[RunDiagnosis]):
    """Your run: a recording's tensors over steps, its spikes, and its replay under policies."""

    key, title = "run", "Your run"
    transient = frozenset({"step"})  # a link cannot bring back an uploaded run's steps
    figure_names = ("your run",)

    def __init__(self, **kwargs: Any) -> None:
        prepare_torch()
        with mpl.rc_context({"font.size": FONT_SIZE}):
            self.figure = make_figure(9.6, 9.4)
            self.heatmap = TensorHeatmapView(
                self.figure.add_axes((0.24, 0.58, 0.66, 0.38)),
                self.figure.add_axes((0.915, 0.58, 0.015, 0.38)),
            )
            self.curves = RunCurvesView(
                self.figure.add_axes((0.24, 0.33, 0.3, 0.17)),
                self.figure.add_axes((0.62, 0.33, 0.3, 0.17)),
            )
            self.replay_view = ReplayView(self.figure.add_axes((0.24, 0.09, 0.68, 0.16)))
        self.uploaded: tuple[str, GradientHistory] | None = None
        self._drawn: RunDiagnosis | None = None  # the result the figure shows
        # a step moved, a policy's setting changed: only these change, over the cached figure
        self.redrawer = Redrawer(self.figure, self._blitted())
        self.step_slider = int_slider("inspect step", 0, Bounds(0, 0, integer=True))
        controls: dict[str, widgets.ValueWidget] = {
            "source": dropdown("run", SOURCES, EXAMPLE),
            "sort": dropdown("sort tensors", list(SORTS), "model order"),
            "group": dropdown("group by", GROUPS, "auto"),
            "threshold": log_slider("clip threshold", 1.0, BOUNDS["threshold"], 0.05),
            "skip_limit": log_slider("skip above", 1000.0, BOUNDS["skip_limit"], 0.05),
            "window": int_slider("spike window", 10, BOUNDS["window"]),
            "rtol": log_slider("spike rtol", 2.0, BOUNDS["rtol"], 0.05),
            "warmup": int_slider("warm-up steps", 10, BOUNDS["warmup"]),
            "z_thresh": float_slider("ZClip z", 2.5, BOUNDS["z_thresh"], 0.1),
            "percentile": float_slider("AutoClip p", 10.0, BOUNDS["percentile"], 1.0),
        }
        super().__init__(controls, BOUNDS, selectors={"step": self.step_slider}, **kwargs)
        self.upload = widgets.FileUpload(accept=".npz", multiple=False, description="Upload")
        self.upload.observe(self._on_upload, names="value")
        self.reload = widgets.Button(description="Load again", icon="refresh")
        self.reload.on_click(lambda _: self.refresh())
        c = self.controls
        self.lay_out(
            "<b>Your run</b>: a training run's gradient norms, tensor by tensor and step by step;"
            " where it spiked or went inf/NaN first; and what each clipping policy would have"
            " done. Record your own loop with <code>GradientRecorder(model, optimizer=opt)</code>"
            " and <code>recorder.save('run.npz')</code>, then upload the file here.",
            [
                [c["source"], c["sort"], c["group"]],
                [c["threshold"], c["skip_limit"], c["percentile"]],
                [c["window"], c["rtol"], c["warmup"], c["z_thresh"]],
            ],
            actions=[self.upload, self.reload],
            below_figures=[self.step_slider],
        )
        self.refresh()

    def figures(self) -> list[Figure]:
        return [self.figure]

    # -- the contract ------------------------------------------------------------------------
    def compute(self, params: Params) -> RunDiagnosis:
        source, history = self._run(params["source"])
        return diagnose(source, history, params)

    def _run(self, source: str) -> tuple[str, GradientHistory]:
        """The recording ``source`` names, in words and as a history."""
        if source == EXAMPLE:
            return "the example: tanh RNN on the adding problem, unclipped", example_run()
        if source == "upload":
            if self.uploaded is None:
                raise ValueError("run: no file uploaded yet; press Upload and choose a .npz file")
            name, uploaded = self.uploaded
            return f"your file {name}", uploaded
        which = 0 if source == "training-unclipped" else 1
        training = self.find("training") if self.find is not None else None
        histories = getattr(training, "histories", (None, None))
        if getattr(training, "running", False):
            raise ValueError("run: the Training lab is still training; load its run when it ends")
        history = histories[which]
        if not isinstance(history, GradientHistory):
            raise ValueError(
                "run: the Training lab has no run yet; press Start there, then load it here"
            )
        return f"the Training lab's last {('unclipped', 'clipped')[which]} run", history

    def selector_bounds(self, result: RunDiagnosis) -> dict[str, Bounds]:
        return {"step": Bounds(0, max(result.history.steps - 1, 0), integer=True)}

    def show(self, result: RunDiagnosis) -> None:
        """A new result: every view, a full draw. The same result at another step: the cursors
        alone, blitted over the figure drawn before."""
        step = int(self.step_slider.value)
        self.readout.value = readout_html(result, step)
        for view in (self.heatmap, self.curves, self.replay_view):
            view.set_cursor(step)
        if result is self._drawn:
            self.redrawer.redraw()
            return
        if self._same_layout(result):  # a policy's setting: the replay and marks repainted
            drawn_labels = self.replay_view.labels
            self.replay_view.update(result.replay, result.first_nonfinite, cursor=step)
            self.heatmap.set_onsets(result.onsets, result.order.rows)
            self.curves.set_spikes(result.spikes, result.history.grad_norms)
            self._drawn = result
            if self.replay_view.labels is not drawn_labels:
                self.redrawer.set_artists(self._blitted())
                self.redrawer.redraw(full=True)
            else:
                self.redrawer.redraw()
            return
        first = result.first_nonfinite
        self.heatmap.update(result.history, result.order, result.onsets, first, cursor=step)
        self.curves.update(result.history, result.spikes, first, cursor=step)
        self.replay_view.update(result.replay, first, cursor=step)
        self.redrawer.set_artists(self._blitted())
        self.redrawer.redraw(full=True)
        self._drawn = result

    def _same_layout(self, result: RunDiagnosis) -> bool:
        """Whether ``result`` shows the drawn recording in the drawn row order: only what the
        policies' settings change differs (the replay, the spike marks)."""
        drawn = self._drawn
        return (
            drawn is not None
            and result.history is drawn.history
            and result.order.groups == drawn.order.groups
            and np.array_equal(result.order.rows, drawn.order.rows)
        )

    def _blitted(self) -> list[Any]:
        """The artists repainted over the cached figure: the cursors, the replay, the marks."""
        return [
            self.heatmap.cursor,
            *self.curves.cursors,
            self.replay_view.cursor,
            *self.replay_view.artists,
            self.heatmap.onsets,
            self.curves.spikes,
        ]

    def ok_message(self, result: RunDiagnosis) -> str:
        history = result.history
        first = result.first_nonfinite
        ending = "stays finite" if first is None else f"goes inf/NaN at step {first}"
        return (
            f"Showing {result.source}: {history.steps} steps, {len(history.names)} tensors;"
            f" it {ending}."
        )

    def snippet(self) -> str:
        """The replay in Python, on the recording shown (loaded from its file)."""
        params = self.values()
        policies = ", ".join(repr(policy) for policy in policies_for(params))
        lines = [
            'history = GradientHistory.load("run.npz")  # recorder.save("run.npz") wrote it',
            f"replay = replay_clipping(history, [{policies}])",
            "for policy in replay.policies:",
            "    print(policy.label, policy.trace.count('clip'), policy.trace.count('skip'),"
            " policy.first_change)",
        ]
        return snippet_text(
            [
                "from explorer.core import (AutoClip, GlobalNormClip, GradientHistory,"
                " SkipAboveThreshold, SpikeDetection, ZClip, replay_clipping)"
            ],
            lines,
        )

    # -- uploads -------------------------------------------------------------------------------
    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        self.load_file(str(files[0].get("name", "run.npz")), files[0].get("content", b""))

    def load_file(self, name: str, content: object) -> bool:
        """Read an uploaded recording and show it; a file that is not one is said in the status
        line and changes nothing. Returns whether it was shown."""
        data = bytes(content) if isinstance(content, (bytes, bytearray, memoryview)) else b""
        shown_name = html.escape(name[:80])
        if len(data) > MAX_UPLOAD_BYTES:  # the server refuses larger messages anyway
            self.set_status(
                f"{shown_name} is {len(data) / 2**20:.0f} MB; files up to"
                f" {MAX_UPLOAD_BYTES // 2**20} MB are read here.",
                "error",
            )
            return False
        try:
            history = GradientHistory.load(io.BytesIO(data))
        except ValueError as error:
            self.set_status(f"{shown_name}: {error}", "error")
            return False
        self.uploaded = (name[:80], history)
        if self.controls["source"].value == "upload":
            return self.refresh()
        return not self.apply_state({"source": "upload"})


def _policy_rows(result: RunDiagnosis, step: int) -> list[list[str]]:
    first = result.first_nonfinite
    rows = [
        [
            "policy",
            "clips",
            "skips",
            "first step that differs",
            "Σ‖Δθ‖ (estimate)",
            f"at step {step}",
            *([f"at the first inf/NaN (step {first})"] if first is not None else []),
        ]
    ]
    live = result.replay.live
    rows.append(
        [
            f"the run: {live.label}",
            str(int(np.count_nonzero(live.actions == 1))),
            str(int(np.count_nonzero(live.actions == 2))),
            "–",
            movement_text(total_movement(live.update_norms)),
            _action(int(live.actions[step]), float(live.multipliers[step])),
            *(
                [_action(int(live.actions[first]), float(live.multipliers[first]))]
                if first is not None
                else []
            ),
        ]
    )
    for policy in result.replay.policies:
        trace = policy.trace
        rows.append(
            [
                policy.label,
                str(trace.count("clip")),
                str(trace.count("skip")),
                "never" if policy.first_change is None else str(policy.first_change),
                movement_text(total_movement(policy.update_norms)),
                _action(int(trace.actions[step]), float(trace.multipliers[step])),
                *(
                    [_action(int(trace.actions[first]), float(trace.multipliers[first]))]
                    if first is not None
                    else []
                ),
            ]
        )
    return rows


def _action(action: int, multiplier: float) -> str:
    name = ACTIONS[action]
    if name == "clip":  # a multiplier just under 1 written so that it does not read as 1
        shown = format_number(multiplier)
        return f"clip ×{shown if shown != '1' else f'{multiplier:.9f}'}"
    return {"none": "leave", "skip": "skip"}[name]


def _overflowed(history: GradientHistory, step: int) -> str:
    """The first non-finite step when no gradient held an inf or NaN: the tensors whose norm
    overflowed there (their values are finite, their squares' sum is not), or the loss."""
    bad = [history.names[i] for i in np.flatnonzero(~np.isfinite(history.param_grad_norms[step]))]
    if not bad:
        return f"step {step}: the loss is inf or NaN (every gradient norm is finite)"
    more = f", and {len(bad) - 1} more" if len(bad) > 1 else ""
    return (
        f"<b style='color:{HIGHLIGHT}'>step {step}: the norm of {html.escape(bad[0])}</b>{more}"
        f" overflowed ({format_number(float(history.grad_norms[step]))}; no value was inf/NaN)"
    )


def readout_html(result: RunDiagnosis, step: int) -> str:
    """The recording's findings written out, and the replay's table."""
    history = result.history
    found = history.first_nonfinite
    if found is not None:
        where = f"{found.module} ({found.module_type})" if found.module_type else found.module
        nonfinite = (
            f"<b style='color:{HIGHLIGHT}'>step {found.step}: {html.escape(found.name)}</b>"
            f" in {html.escape(where or '(model)')}"
            + (f", and {len(found.names) - 1} more" if len(found.names) > 1 else "")
        )
    elif result.first_nonfinite is not None:
        nonfinite = _overflowed(history, result.first_nonfinite)
    else:
        nonfinite = "none: every gradient stayed finite"
    spiking = [(int(s), i) for i, s in enumerate(result.onsets.tolist()) if s >= 0]
    if spiking:
        onset, tensor = min(spiking)
        spiked = f"{html.escape(history.names[tensor])} at step {onset}"
    else:
        spiked = "none"
    spikes = ", ".join(str(s) for s in result.spikes[:12].tolist()) or "none"
    if result.spikes.size > 12:
        spikes += f" … ({result.spikes.size} in all)"
    norms = history.param_grad_norms[step]
    top = np.argsort(np.where(np.isfinite(norms), -norms, -np.inf), kind="stable")[:TOP_TENSORS]
    largest = ", ".join(
        f"{html.escape(history.names[i])} {format_number(float(norms[i]))}" for i in top
    )
    summary = readout_table(
        [
            ("run", html.escape(result.source)),
            ("steps × tensors", f"{history.steps} × {len(history.names)}"),
            ("first inf/NaN gradient", nonfinite),
            ("first tensor to spike", spiked),
            ("spikes of the global norm", f"at steps {spikes}"),
            (
                f"step {step}",
                f"loss {format_number(float(history.losses[step]))},"
                f" ‖∇L‖ {format_number(float(history.grad_norms[step]))}; largest: {largest}",
            ),
        ]
    )
    table = readout_table(cell_style="padding-right:14px", rows=_policy_rows(result, step))
    limits = f"<p style='color:#555;max-width:60em'>{html.escape(result.replay.limits)}</p>"
    return summary + table + limits
