"""inspect_model's cost on a 12-layer nn.TransformerEncoder, against one forward and backward pass.

The model: nn.TransformerEncoder of 12 post-norm TransformerEncoderLayers (d_model 256, 8 heads,
dim_feedforward 1024, batch_first), put in eval mode here (dropout off; inspect_model itself
never changes the mode), on a batch of 8 sequences of 64 tokens. Its layers, the modules that own
parameters, are 60: per encoder layer self_attn (MultiheadAttention: q = k = v, so its Jacobian
is taken with respect to the shared input), norm1, linear1, linear2, norm2. Dropout and the
activation own no parameters and are not layers; out_proj is applied through its weight, never
called, so it is not one either.

Timed: ``inspect_model(model, x)`` with its defaults (50 power iterations at most per layer, tol
1e-4), median and p90 over REPEATS calls after one warm-up, on one torch thread (two threads
beside other work on this 2-core machine ran about 5x slower, not faster); and for scale, one
forward and backward pass of the same model (a training step without the optimizer). Also
reported: the verdict, how many layers stopped before 50 iterations, and, on the first encoder
layer alone, how far the default estimates are below 300 iterations' (power iteration rises to
the norm from below).
Prints JSON.

Run: .venv/bin/python benchmarks/bench_inspect.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import time_ms

from explorer.core import ModelInspection, inspect_model

REPEATS = 2  # after one warm-up: three calls of about 25 s each
SHAPE = (8, 64, 256)  # batch, tokens, d_model


def encoder() -> torch.nn.Module:
    """The 12-layer encoder, seeded, in eval mode."""
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(256, 8, 1024, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
    return model.eval()


def main() -> None:
    torch.set_num_threads(1)
    model = encoder()
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1))

    def forward_backward() -> None:
        model(x).sum().backward()
        model.zero_grad(set_to_none=True)

    results: list[ModelInspection] = []
    inspect = time_ms(lambda: results.append(inspect_model(model, x)), REPEATS)
    result = results[-1]
    step = time_ms(forward_backward, 10)
    # the defaults' accuracy, on the first encoder layer alone (300 iterations of all 60 layers
    # would take minutes): its 5 layers, at its own input x
    first = model.layers[0]
    default, reference = inspect_model(first, x), inspect_model(first, x, iterations=300, tol=0)
    error = np.abs(default.jacobian_norms / reference.jacobian_norms - 1)
    report = {
        "benchmark": "inspect_model on a 12-layer TransformerEncoder (d 256, 8 heads, ff 1024)",
        "input": list(SHAPE),
        "torch_threads": torch.get_num_threads(),
        "layers": len(result.names),
        "layer_types": {t: result.module_types.count(t) for t in sorted(set(result.module_types))},
        "inspect_model": inspect,
        "forward_backward": step,
        "ratio_to_forward_backward": round(inspect["median_ms"] / step["median_ms"], 1),
        "stopped_before_50_iterations": sum("not converged" not in note for note in result.notes),
        "notes": sorted({note for note in result.notes if note}),
        "layers_0_relative_gap_to_300_iterations": {
            name: float(f"{gap:.2e}") for name, gap in zip(default.names, error, strict=True)
        },
        "ratio": round(result.ratio, 4),
        "verdict": result.verdict,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
