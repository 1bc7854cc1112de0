"""Real training runs with and without clipping, recorded step by step.

Two scenarios, their data made here from a fixed seed (nothing is downloaded):

- ``"regression"``: the tutorial's experiment (article 002). A two-layer MLP (20 inputs, 25
  hidden ReLU units, 1 output; Xavier-uniform weights, biases 0.01) fitted with MSE to
  ``make_regression(n_samples=1000, n_features=20, noise=0.1, random_state=1)`` (scikit-learn's
  algorithm, reproduced to the bit), in shuffled batches of 128 drawn as
  ``DataLoader(shuffle=True)`` draws them, by SGD with learning rate 0.07 and momentum 0.8.
  The tutorial clipped by value at 1.0. Its targets have a standard deviation of about 150, so
  the first gradients are in the hundreds and unclipped training overflows within a few steps.
- ``"adding"``: the adding problem (Hochreiter & Schmidhuber 1997; Pascanu et al. 2013): a
  sequence of T pairs (a value drawn from U[0, 1], a marker), two of them marked, one in each half;
  the target is the sum of the two marked values. A plain tanh RNN (``torch.nn.RNN``) reads the
  sequence and a linear layer maps its last state to the answer. The recurrent weights are drawn
  N(0, scale² / hidden): with scale > 1 the backward pass grows with T, so a long sequence brings
  gradient spikes that throw the weights. Always answering 1 (the mean) gives MSE 1/6.

``Trainer`` advances a run a few steps at a time (a panel trains in chunks and stays responsive);
``train`` runs one to the end; ``train_pair`` runs unclipped and clipped training from the same
initial weights on the same batches. Each step is recorded by ``GradientRecorder``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import torch

from explorer.core._types import FloatArray
from explorer.core._validate import MAX_THRESHOLD, check_choice, check_float, check_int, check_seed
from explorer.core.clip import METHODS
from explorer.core.monitor import GradientHistory, GradientRecorder

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing's own from Python 3.11

SCENARIOS = ("regression", "adding")
OPTIMIZERS = ("sgd", "momentum", "adam")
MAX_STEPS = 100_000


@dataclass(frozen=True)
class Scenario:
    """A scenario's default settings (the articles' where they give them)."""

    title: str
    steps: int
    optimizer: str
    lr: float
    momentum: float
    clip_method: str
    clip_threshold: float
    batch_size: int
    seq_len: int | None = None
    hidden_size: int | None = None
    recurrent_scale: float | None = None


SCENARIO_DEFAULTS = {
    "regression": Scenario(
        title="MLP regression (the tutorial's experiment)",
        steps=400,  # the tutorial's 50 epochs of 8 batches
        optimizer="momentum",
        lr=0.07,
        momentum=0.8,
        clip_method="value",
        clip_threshold=1.0,
        batch_size=128,
    ),
    "adding": Scenario(
        title="tanh RNN on the adding problem",
        steps=300,
        optimizer="sgd",
        lr=0.05,
        momentum=0.9,
        clip_method="global_norm",
        clip_threshold=1.0,
        batch_size=64,
        seq_len=100,
        hidden_size=64,
        recurrent_scale=1.5,
    ),
}


class TrainerSettings(TypedDict):
    """What a ``Trainer`` runs with (``Trainer.settings``), each as the trainer uses it.

    ``momentum`` is the SGD momentum the optimizer holds (0.0 for plain "sgd", None for "adam",
    which has none); ``clip_method`` and ``clip_threshold`` are None when the run is not clipped;
    ``seq_len``, ``hidden_size`` and ``recurrent_scale`` are None for the regression scenario.
    """

    steps: int
    optimizer: str
    lr: float
    momentum: float | None
    clip_method: str | None
    clip_threshold: float | None
    batch_size: int
    seq_len: int | None
    hidden_size: int | None
    recurrent_scale: float | None


class RunOptions(TypedDict, total=False):
    """``Trainer``'s keyword arguments but ``clip_method`` (for ``train_pair``)."""

    clip_threshold: float | None
    optimizer: str | None
    lr: float | None
    momentum: float | None
    steps: int | None
    batch_size: int | None
    seq_len: int | None
    hidden_size: int | None
    recurrent_scale: float | None
    seed: int
    stop_on_nonfinite: bool


class TrainerOptions(RunOptions, total=False):
    """``Trainer``'s keyword arguments (for ``train``)."""

    clip_method: str | None


@dataclass(frozen=True)
class TrainingHistory(GradientHistory):
    """A ``GradientHistory`` with the run's settings and how it ended.

    ``stop_reason`` is "completed", "diverged" (a non-finite loss or gradient; the update of that
    step is not applied when the run stops there), "stopped" (asked to) or "running".
    """

    scenario: str = ""
    optimizer: str = ""
    lr: float = math.nan
    seed: int = 0
    steps_requested: int = 0
    seq_len: int | None = None
    stop_reason: str = "running"


def prepare_torch() -> None:
    """Import what torch.optim imports when the first optimizer is built (torch._dynamo: 1-1.5 s
    here), so that a panel pays it when it is built, not inside a click."""
    import torch._dynamo  # noqa: F401


def regression_data() -> tuple[FloatArray, FloatArray]:
    """The tutorial's data: scikit-learn's ``make_regression(n_samples=1000, n_features=20,
    noise=0.1, random_state=1)`` (10 informative features), reproduced draw for draw."""
    x, y = _regression_arrays()
    return x.copy(), y.copy()


@functools.cache
def _regression_arrays() -> tuple[FloatArray, FloatArray]:
    samples, features, informative = 1000, 20, 10
    generator = np.random.RandomState(1)
    x = generator.standard_normal(size=(samples, features))
    truth = np.zeros((features, 1))
    truth[:informative] = 100 * generator.uniform(size=(informative, 1))
    y = x @ truth
    y += generator.normal(scale=0.1, size=y.shape)
    order = np.arange(samples)  # sklearn.utils.shuffle of the samples, then of the features
    generator.shuffle(order)
    x, y = x[order], y[order]
    columns = np.arange(features)
    generator.shuffle(columns)
    x[:, :] = x[:, columns]
    return x, np.squeeze(y)


def adding_batch(
    batch_size: int, seq_len: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """An adding-problem batch: inputs (batch, T, 2) of (value, marker), targets (batch, 1)."""
    values = torch.rand(batch_size, seq_len, generator=generator)
    half = seq_len // 2
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, seq_len, (batch_size,), generator=generator)
    markers = torch.zeros(batch_size, seq_len)
    rows = torch.arange(batch_size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), (values * markers).sum(dim=1, keepdim=True)


class RegressionMLP(torch.nn.Module):
    """The tutorial's network: Linear(20, 25) -> ReLU -> Linear(25, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(20, 25)
        self.fc2 = torch.nn.Linear(25, 1)
        for layer in (self.fc1, self.fc2):  # the tutorial's init_weights
            torch.nn.init.xavier_uniform_(layer.weight)
            layer.bias.data.fill_(0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output: torch.Tensor = self.fc2(torch.relu(self.fc1(x)))
        return output


class AddingRNN(torch.nn.Module):
    """A plain tanh RNN and a linear read-out of its last state."""

    def __init__(self, hidden_size: int, recurrent_scale: float) -> None:
        super().__init__()
        self.rnn = torch.nn.RNN(2, hidden_size, nonlinearity="tanh", batch_first=True)
        self.out = torch.nn.Linear(hidden_size, 1)
        with torch.no_grad():
            recurrent = self.rnn.get_parameter("weight_hh_l0")
            recurrent.normal_(0.0, recurrent_scale / math.sqrt(hidden_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(x)
        output: torch.Tensor = self.out(states[:, -1])
        return output


def _check_settings(
    scenario: str, clip_method: str | None, given: Mapping[str, object]
) -> TrainerSettings:
    """The scenario's defaults with ``given`` (None: default) laid over, validated, as the
    trainer will use them (see ``TrainerSettings``)."""
    defaults = SCENARIO_DEFAULTS[scenario]

    def chosen(name: str) -> object:
        value = given.get(name)
        return getattr(defaults, name) if value is None else value

    steps = check_int("steps", chosen("steps"), 1, MAX_STEPS)
    optimizer = check_choice("optimizer", chosen("optimizer"), OPTIMIZERS)
    lr = check_float("lr", chosen("lr"), 0.0, 100.0, low_open=True)
    momentum = check_float("momentum", chosen("momentum"), 0.0, 0.999)
    clip_threshold = check_float(
        "clip_threshold", chosen("clip_threshold"), 0.0, MAX_THRESHOLD, low_open=True
    )
    seq_len: int | None = None
    hidden_size: int | None = None
    recurrent_scale: float | None = None
    if scenario == "regression":
        batch_size = check_int("batch_size", chosen("batch_size"), 1, 1000)
        for name in ("seq_len", "hidden_size", "recurrent_scale"):
            if given.get(name) is not None:
                raise ValueError(f"{name} must be None for scenario 'regression': it has no RNN")
    else:
        batch_size = check_int("batch_size", chosen("batch_size"), 1, 1024)
        seq_len = check_int("seq_len", chosen("seq_len"), 2, 1000)
        hidden_size = check_int("hidden_size", chosen("hidden_size"), 1, 512)
        recurrent_scale = check_float("recurrent_scale", chosen("recurrent_scale"), 0.0, 10.0)
    return TrainerSettings(
        steps=steps,
        optimizer=optimizer,
        lr=lr,
        # what the optimizer holds: "sgd" is SGD with momentum 0, Adam has no momentum setting
        momentum=momentum if optimizer == "momentum" else 0.0 if optimizer == "sgd" else None,
        clip_method=clip_method,
        clip_threshold=None if clip_method is None else clip_threshold,
        batch_size=batch_size,
        seq_len=seq_len,
        hidden_size=hidden_size,
        recurrent_scale=recurrent_scale,
    )


class Trainer:
    """One training run of a scenario, advanced ``advance(n)`` steps at a time.

    Settings left None take the scenario's default (``SCENARIO_DEFAULTS``). ``clip_method`` None
    trains unclipped; otherwise one of ``METHODS``, with torch's semantics (``clip_in_place``).
    ``seed`` fixes the initial weights and the batches; two trainers that differ only in clipping
    start from the same weights and see the same batches. torch's global random state is left as
    it was. ``settings`` holds the settings exactly as the run uses them (``TrainerSettings``).
    """

    def __init__(
        self,
        scenario: str = "regression",
        *,
        clip_method: str | None = None,
        clip_threshold: float | None = None,
        optimizer: str | None = None,
        lr: float | None = None,
        momentum: float | None = None,
        steps: int | None = None,
        batch_size: int | None = None,
        seq_len: int | None = None,
        hidden_size: int | None = None,
        recurrent_scale: float | None = None,
        seed: int = 0,
        stop_on_nonfinite: bool = True,
    ) -> None:
        self.scenario = check_choice("scenario", scenario, SCENARIOS)
        if clip_method is not None:
            clip_method = check_choice("clip_method", clip_method, METHODS)
        self.seed = check_seed(seed)
        self.settings = _check_settings(
            scenario,
            clip_method,
            {
                "clip_threshold": clip_threshold,
                "optimizer": optimizer,
                "lr": lr,
                "momentum": momentum,
                "steps": steps,
                "batch_size": batch_size,
                "seq_len": seq_len,
                "hidden_size": hidden_size,
                "recurrent_scale": recurrent_scale,
            },
        )
        self.clip_method = clip_method
        self.stop_on_nonfinite = bool(stop_on_nonfinite)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model = self._build_model()
        self.optimizer = self._build_optimizer()
        self.batches = torch.Generator().manual_seed(self.seed)
        self.recorder = GradientRecorder(
            self.model,
            clip_method=self.settings["clip_method"],
            clip_threshold=self.settings["clip_threshold"],
            optimizer=self.optimizer,  # each step's update norms
        )
        self.steps_done = 0
        self.stop_reason = "running"
        self._epoch: list[torch.Tensor] = []
        self._epochs = 0
        if self.scenario == "regression":
            x, y = _regression_arrays()
            self._x = torch.tensor(x, dtype=torch.float32)
            self._y = torch.tensor(y, dtype=torch.float32)[:, None]

    def _build_model(self) -> torch.nn.Module:
        hidden_size, scale = self.settings["hidden_size"], self.settings["recurrent_scale"]
        if hidden_size is None or scale is None:  # the regression scenario: no RNN
            return RegressionMLP()
        return AddingRNN(hidden_size, scale)

    def _build_optimizer(self) -> torch.optim.Optimizer:
        params, lr = self.model.parameters(), self.settings["lr"]
        momentum = self.settings["momentum"]
        if momentum is None:  # adam
            return torch.optim.Adam(params, lr=lr)
        return torch.optim.SGD(params, lr=lr, momentum=momentum)

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        seq_len = self.settings["seq_len"]
        if seq_len is not None:  # the adding problem
            return adding_batch(self.settings["batch_size"], seq_len, self.batches)
        if not self._epoch:  # a new epoch, drawn as DataLoader(shuffle=True, generator=...) does
            samples = len(self._x)
            if self._epochs:  # RandomSampler's draw for the (empty) remainder of the last epoch
                torch.randperm(samples, generator=self.batches)
            torch.empty((), dtype=torch.int64).random_(generator=self.batches)  # its base seed
            order = torch.randperm(samples, generator=self.batches)
            self._epochs += 1
            self._epoch = list(torch.split(order, self.settings["batch_size"]))[::-1]
        rows = self._epoch.pop()
        return self._x[rows], self._y[rows]

    @property
    def done(self) -> bool:
        return self.stop_reason != "running"

    def step(self) -> float:
        """One training step; returns the global gradient norm before clipping."""
        x, y = self._next_batch()
        self.optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(self.model(x), y)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        loss_value = loss.item()
        norm = self.recorder.record(loss_value)
        self.steps_done += 1
        finite = math.isfinite(norm) and math.isfinite(loss_value)
        if not finite and self.stop_on_nonfinite:
            self.stop_reason = "diverged"
            return norm
        self.optimizer.step()
        if self.steps_done >= self.settings["steps"]:
            self.stop_reason = "completed"
        return norm

    def advance(self, count: int) -> int:
        """Train up to ``count`` more steps (fewer if the run ends); return how many ran."""
        count = check_int("count", count, 0, MAX_STEPS)
        ran = 0
        while ran < count and not self.done:
            self.step()
            ran += 1
        return ran

    def stop(self) -> None:
        """End the run where it is (its history stays readable)."""
        if not self.done:
            self.stop_reason = "stopped"

    def history(self) -> TrainingHistory:
        """Everything recorded so far, with the run's settings."""
        recorded = self.recorder.history()
        return TrainingHistory(
            **{f.name: getattr(recorded, f.name) for f in fields(GradientHistory)},
            scenario=self.scenario,
            optimizer=self.settings["optimizer"],
            lr=self.settings["lr"],
            seed=self.seed,
            steps_requested=self.settings["steps"],
            seq_len=self.settings["seq_len"],
            stop_reason=self.stop_reason,
        )


def train(scenario: str = "regression", **settings: Unpack[TrainerOptions]) -> TrainingHistory:
    """Train ``scenario`` to the end (or to its first non-finite step) and return its history.

    ``settings`` are ``Trainer``'s keyword arguments."""
    trainer = Trainer(scenario, **settings)
    trainer.advance(trainer.settings["steps"])
    return trainer.history()


def train_pair(
    scenario: str = "regression", clip_method: str | None = None, **settings: Unpack[RunOptions]
) -> tuple[TrainingHistory, TrainingHistory]:
    """(unclipped, clipped) training from the same initial weights on the same batches.

    ``clip_method`` None takes the scenario's default (the tutorial clipped by value at 1.0)."""
    check_choice("scenario", scenario, SCENARIOS)
    method = clip_method or SCENARIO_DEFAULTS[scenario].clip_method
    return (
        train(scenario, clip_method=None, **settings),
        train(scenario, clip_method=method, **settings),
    )
