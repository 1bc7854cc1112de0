"""GradientRecorder's cost per training step, against a plain loop and against clip_grad_norm_.

Three models the explorer did not build: a TransformerEncoder (2 layers, d_model 128, 4 heads), a
2-layer nn.LSTM (hidden 128) with a linear head, and a small CNN (three 3x3 convolutions and a
linear head). Each step is zero_grad, forward, MSE loss, backward, [extra], SGD step, where
[extra] is nothing (plain), ``clip_grad_norm_(params, 1.0)`` (clip), ``recorder.record(loss)``
with global-norm clipping at 1.0 (record) or the same with ``optimizer=`` given, so update norms
are measured too (record+updates). The loops run interleaved, step by step, and the medians over
all steps are reported: the whole step (ms) and the [extra] call alone (ms), with the ratio of
each recorder call to the clip_grad_norm_ call. torch runs on 1 thread. Prints JSON.

Run: .venv/bin/python benchmarks/bench_recorder.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from explorer.core.monitor import GradientRecorder

STEPS = 60
WARMUP = 5
KINDS = ("plain", "clip", "record", "record+updates")


class LSTMRegressor(torch.nn.Module):
    """nn.LSTM (2 layers, hidden 128) and a linear head on the last time step."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(16, 128, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(128, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        result: torch.Tensor = self.head(out[:, -1])
        return result


class EncoderRegressor(torch.nn.Module):
    """nn.TransformerEncoder (2 layers, d_model 128, 4 heads) and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        layer = torch.nn.TransformerEncoderLayer(128, 4, 256, dropout=0.0, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = torch.nn.Linear(128, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.head(self.encoder(x).mean(dim=1))
        return result


def small_cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1, stride=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1, stride=2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 8 * 8, 1),
    )


MODELS: dict[str, tuple[Callable[[], torch.nn.Module], tuple[int, ...]]] = {
    "TransformerEncoder (2 layers, d 128, batch 16 x 32 tokens)": (EncoderRegressor, (16, 32, 128)),
    "nn.LSTM (2 layers, hidden 128, batch 16 x 32 steps)": (LSTMRegressor, (16, 32, 16)),
    "small CNN (3 conv + linear, batch 32 x 3x32x32)": (small_cnn, (32, 3, 32, 32)),
}


def _loop(kind: str, build: Callable[[], torch.nn.Module]) -> Callable[..., tuple[float, float]]:
    """One training step of the given kind; returns (whole step, extra call) in seconds."""
    torch.manual_seed(0)
    model = build()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=1e-3)
    recorder = None
    if kind.startswith("record"):
        recorder = GradientRecorder(
            model,
            clip_method="global_norm",
            clip_threshold=1.0,
            **({"optimizer": optimizer} if kind == "record+updates" else {}),
        )

    def step(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        began = time.perf_counter()
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        extra_began = time.perf_counter()
        if kind == "clip":
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        elif recorder is not None:
            recorder.record(loss)
        extra = time.perf_counter() - extra_began
        optimizer.step()
        return time.perf_counter() - began, extra

    return step


def measure(build: Callable[[], torch.nn.Module], shape: tuple[int, ...]) -> dict[str, object]:
    gen = torch.Generator().manual_seed(1)
    batches = [
        (torch.randn(*shape, generator=gen), torch.randn(shape[0], 1, generator=gen))
        for _ in range(4)
    ]
    loops = {kind: _loop(kind, build) for kind in KINDS}
    steps: dict[str, list[float]] = {kind: [] for kind in KINDS}
    extras: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for index in range(WARMUP + STEPS):
        x, y = batches[index % len(batches)]
        for kind in KINDS:
            whole, extra = loops[kind](x, y)
            if index >= WARMUP:
                steps[kind].append(whole)
                extras[kind].append(extra)
    step_ms = {kind: 1e3 * statistics.median(steps[kind]) for kind in KINDS}
    extra_ms = {kind: 1e3 * statistics.median(extras[kind]) for kind in KINDS}
    params = sum(p.numel() for p in build().parameters())
    tensors = len(list(build().parameters()))
    return {
        "parameters": params,
        "tensors": tensors,
        "step_ms": {kind: round(value, 3) for kind, value in step_ms.items()},
        "overhead_vs_plain_ms": {
            kind: round(step_ms[kind] - step_ms["plain"], 3) for kind in KINDS[1:]
        },
        "call_ms": {kind: round(extra_ms[kind], 4) for kind in KINDS[1:]},
        "call_ratio_to_clip_grad_norm_": {
            kind: round(extra_ms[kind] / extra_ms["clip"], 2) for kind in KINDS[2:]
        },
    }


def main() -> None:
    torch.set_num_threads(1)
    report = {
        "benchmark": "GradientRecorder.record() per step (1 torch thread, medians)",
        "steps": STEPS,
        "target": "record() with clipping costs at most 1.5x clip_grad_norm_",
        "models": {name: measure(build, shape) for name, (build, shape) in MODELS.items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
