"""Reading a recording: each tensor's first spike, first non-finite step, and the display order.

References: ``run_policy`` on each column (a SpikeDetection run step by step, itself tested
against a transcription of Lightning's rule in test_core_policies.py) for the vectorised onsets;
numpy's own isfinite/argmax on hand-made columns for the rest.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.core.diagnose import (
    auto_group_depth,
    first_nonfinite_steps,
    group_name,
    largest_norms,
    order_tensors,
    spike_onsets,
)
from explorer.core.monitor import GradientHistory
from explorer.core.policies import SpikeDetection, run_policy


def _first_skip(detector: SpikeDetection, column: np.ndarray) -> int:
    actions = run_policy(detector, column).actions
    skips = np.flatnonzero(actions == 2)
    return int(skips[0]) if skips.size else -1


DETECTORS = [
    SpikeDetection(),
    SpikeDetection(window=3, warmup=0, rtol=0.5),
    SpikeDetection(window=5, warmup=4, atol=1.0, rtol=None),
    SpikeDetection(window=2, warmup=1, atol=0.3, rtol=1.0),
]


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.label)
def test_onsets_equal_the_policy_run_column_by_column(detector: SpikeDetection) -> None:
    """Random norms with spikes, an inf, NaN in and after the warm-up: every column's onset is
    the first step the policy skips when run on that column alone."""
    rng = np.random.default_rng(4)
    norms = np.exp(rng.normal(0.0, 0.4, size=(60, 40)))
    norms[rng.integers(0, 60, size=40), np.arange(40)] *= 20.0  # one spike per column
    norms[2, 3] = math.nan  # in the warm-up of some detectors
    norms[0, 5] = math.nan
    norms[30, 6] = math.inf
    norms[40, 7] = math.nan
    expected = [_first_skip(detector, norms[:, k]) for k in range(norms.shape[1])]
    assert spike_onsets(norms, detector).tolist() == expected
    assert len(set(expected)) > 5  # the columns do spike at different steps


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=0.0, max_value=1e6),
            st.sampled_from([math.inf, math.nan]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(1, 6),
    st.integers(0, 5),
    st.sampled_from([None, 0.5, 2.0]),
)
def test_onsets_equal_the_policy_run_on_any_column(
    column: list[float], window: int, warmup: int, rtol: float | None
) -> None:
    detector = SpikeDetection(window=window, warmup=warmup, rtol=rtol, atol=0.1)
    values = np.array(column)
    assert spike_onsets(values[:, None], detector).tolist() == [_first_skip(detector, values)]


def test_first_nonfinite_and_largest_norms() -> None:
    norms = np.array([[1.0, 2.0, 5.0], [math.inf, 3.0, math.nan], [math.nan, 9.0, 1.0]])
    assert first_nonfinite_steps(norms).tolist() == [1, -1, 1]
    np.testing.assert_array_equal(largest_norms(norms), [1.0, 9.0, 5.0])
    assert math.isnan(largest_norms(np.array([[math.nan], [math.inf]]))[0])


def test_onsets_refuse_what_they_cannot_vectorise() -> None:
    with pytest.raises(ValueError, match=r"^detector must be"):
        spike_onsets(np.ones((3, 2)), SpikeDetection(finite_only=False))
    with pytest.raises(ValueError, match=r"^values must be"):
        spike_onsets(np.ones(3), SpikeDetection())


def _history(modules: list[str], norms: np.ndarray) -> GradientHistory:
    names = [f"{m}.weight" if m else "weight" for m in modules]
    return GradientHistory.from_norms(
        norms, names, modules=modules, module_types=("Linear",) * len(modules)
    )


def test_groups_and_sorts() -> None:
    """Tensors of the same module stay together; a group is placed by its most telling tensor."""
    modules = ["enc.0.a", "enc.0.b", "enc.1.a", "enc.1.b", "head"]
    norms = np.ones((6, 5))
    norms[4, 2] = 50.0  # enc.1.a is the largest and spikes first
    norms[5, 4] = math.nan  # head goes non-finite
    history = _history(modules, norms)
    model = order_tensors(history, "model order", depth=2)
    assert model.rows.tolist() == [0, 1, 2, 3, 4]
    assert model.groups == (("enc.0", 0, 2), ("enc.1", 2, 4), ("head", 4, 5))
    largest = order_tensors(history, "largest norm", depth=2)
    assert largest.rows.tolist()[:2] == [2, 3]  # enc.1 first, its largest tensor on top
    spike = order_tensors(history, "first spike", depth=2)
    assert spike.rows.tolist()[:2] == [2, 3]
    bad = order_tensors(history, "first non-finite", depth=2)
    assert bad.rows.tolist()[0] == 4
    assert bad.groups[0] == ("head", 0, 1)
    flat = order_tensors(history, "model order", depth=1)
    assert flat.groups == (("enc", 0, 4), ("head", 4, 5))


def test_group_names_and_automatic_depth() -> None:
    assert group_name("encoder.layers.3.linear1", 3) == "encoder.layers.3"
    assert group_name("encoder.layers.3.linear1", 0) == "encoder.layers.3.linear1"
    assert group_name("", 2) == "(model)"
    # 12 layers x 4 submodules: depth 3 gives 12 groups, depth 4 gives 48 (> 30)
    modules = [f"encoder.layers.{i}.{m}" for i in range(12) for m in ("a", "b", "c", "d")]
    assert auto_group_depth(modules) == 3
    with pytest.raises(ValueError, match=r"^sort must be"):
        order_tensors(_history(["a"], np.ones((2, 1))), "alphabetical")
