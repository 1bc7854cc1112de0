"""explorer.core.policies against transcriptions of the published rules, written here from the
reference code (not from the implementation), on fixed sequences: flat, with a spike, during and
after warm-up, with inf and NaN; plus cases checked by hand and torch's own clip_grad_norm_.

Sources transcribed (file and lines of the versions read):
- Lightning's SpikeDetection: Lightning-AI/pytorch-lightning, src/lightning/fabric/utilities/
  spike.py (commit 7f0c343), lines 55-68 (state), 82-95 (on_train_batch_end), 97-111
  (_is_spike), 128-145 (tolerances, _is_better, _update_stats); its running mean is torchmetrics'
  Running(MeanMetric) (Lightning-AI/torchmetrics, src/torchmetrics/wrappers/running.py, update and
  compute; src/torchmetrics/aggregation.py, MeanMetric.update drops NaN values).
- ZClip: bluorion-com/ZClip, zclip/zclip.py (commit 584ce4f), lines 71-85 (EMA), 117-137
  (_compute_clip_val), 139-168 (clipping), 170-211 (step).
- AutoClip: pseeth/autoclip, autoclip.py (commit dfb622c), lines 19-29.
- optax: google-deepmind/optax, optax/transforms/_accumulation.py, skip_large_updates (line 214).
Lightning is not installed in the virtualenv (nor torchmetrics), so the real SpikeDetection object
is not run; its rule is transcribed below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.core import (
    ACTIONS,
    AutoClip,
    GlobalNormClip,
    SkipAboveThreshold,
    SpikeDetection,
    ZClip,
    run_policy,
)
from explorer.core.policies import linear_percentile

NAN, INF = math.nan, math.inf
FLAT = [1.0] * 12
SPIKE = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 8.0, 1.0, 1.02, 0.98, 1.0, 30.0, 1.0]
WARM_SPIKE = [5.0, 1.0, 1.2, 0.8, 1.0, 1.1, 0.9, 6.0, 1.0]  # a spike inside a short warm-up
NONFINITE = [1.0, NAN, 1.2, INF, 0.9, 1.1, NAN, 1.0, 5.0, INF, 1.0, 0.7]
EARLY_NAN = [NAN, 1.0, 1.2, 0.8, 9.0, 1.0]  # a NaN during the warm-up
SEQUENCES = {
    "flat": FLAT,
    "spike": SPIKE,
    "warm_spike": WARM_SPIKE,
    "nonfinite": NONFINITE,
    "early_nan": EARLY_NAN,
}


def _clipped_by_torch(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    """The gradients torch.nn.utils.clip_grad_norm_ leaves on parameters holding ``grads``."""
    params = [torch.zeros_like(grad, requires_grad=True) for grad in grads]
    for param, grad in zip(params, grads, strict=True):
        param.grad = grad.clone()
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [param.grad for param in params if param.grad is not None]


def _same(actual: list[float] | np.ndarray, expected: list[float]) -> None:
    """Equal as floats, NaN equal to NaN."""
    np.testing.assert_array_equal(np.asarray(actual, dtype=np.float64), np.asarray(expected))


# --- Lightning SpikeDetection -----------------------------------------------------------------


class _RunningMean:
    """torchmetrics Running(MeanMetric(), window): one (mean_value, weight) state per slot,
    written at _num_vals_seen % window; compute sums the slots in slot order; NaN is removed."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.mean_value = [torch.tensor(0.0, dtype=torch.float64)] * window
        self.weight = [torch.tensor(0.0, dtype=torch.float64)] * window
        self._num_vals_seen = 0

    def update(self, value: torch.Tensor) -> None:
        val = self._num_vals_seen % self.window
        x = value.reshape(1)
        x = x[~torch.isnan(x)]  # nan_strategy "warn": removed
        self.mean_value[val] = torch.tensor(0.0, dtype=torch.float64) + (x * 1.0).sum()
        self.weight[val] = torch.tensor(0.0, dtype=torch.float64) + torch.ones_like(x).sum()
        self._num_vals_seen += 1

    def compute(self) -> torch.Tensor:
        mean_value = torch.tensor(0.0, dtype=torch.float64)
        weight = torch.tensor(0.0, dtype=torch.float64)
        for i in range(self.window):
            mean_value, weight = mean_value + self.mean_value[i], weight + self.weight[i]
        return mean_value / weight


class _LightningSpike:
    """spike.py, mode "min", one rank; a spike returns True instead of raising."""

    def __init__(
        self, window: int, warmup: int, atol: float | None, rtol: float | None, finite_only: bool
    ) -> None:
        self.last_val: torch.Tensor | float = 0.0
        self.running_mean = _RunningMean(window)
        self.warmup, self.atol, self.rtol, self.finite_only = warmup, atol, rtol, finite_only

    def on_train_batch_end(self, loss: torch.Tensor, batch_idx: int) -> bool:
        is_spike = bool(batch_idx >= self.warmup and self._is_spike(loss))
        if is_spike:
            return True
        is_finite_all = self.finite_only or bool(torch.isfinite(loss).all())
        if is_finite_all:
            self.running_mean.update(loss)
            self.last_val = loss
        return False

    def _is_spike(self, loss: torch.Tensor) -> bool:
        running_val = self.running_mean.compute()
        curr_diff = loss - self.last_val
        if self.finite_only and not torch.isfinite(loss):
            return True
        if bool((curr_diff <= 0.0).all()):
            return False
        return self._check_atol(loss, running_val) and self._check_rtol(loss, running_val)

    def _check_atol(self, val_a: torch.Tensor, val_b: torch.Tensor) -> bool:
        return (self.atol is None) or bool(abs(val_a - val_b) >= abs(self.atol))

    def _check_rtol(self, val_a: torch.Tensor, val_b: torch.Tensor) -> bool:
        return (self.rtol is None) or bool(abs(val_a - val_b) >= abs(self.rtol * val_b))


SPIKE_SETTINGS = [
    {"window": 10, "warmup": 1, "atol": None, "rtol": 2.0, "finite_only": True},  # defaults
    {"window": 3, "warmup": 4, "atol": None, "rtol": 0.5, "finite_only": True},
    {"window": 4, "warmup": 0, "atol": 0.5, "rtol": 1.0, "finite_only": False},
    {"window": 2, "warmup": 2, "atol": 1.0, "rtol": None, "finite_only": False},
    {"window": 3, "warmup": 1, "atol": None, "rtol": None, "finite_only": True},  # any rise
]


@pytest.mark.parametrize("settings", SPIKE_SETTINGS)
@pytest.mark.parametrize("name", list(SEQUENCES))
def test_spike_detection_equals_lightning_rule(settings: dict, name: str) -> None:
    """Skipped steps are exactly the steps Lightning's transcribed callback calls spikes."""
    reference = _LightningSpike(**settings)
    norms = SEQUENCES[name]
    expected = [
        reference.on_train_batch_end(torch.tensor(x, dtype=torch.float64), i)
        for i, x in enumerate(norms)
    ]
    trace = run_policy(SpikeDetection(**settings), norms)
    assert list(trace.actions == ACTIONS.index("skip")) == expected
    _same(trace.multipliers, [0.0 if spike else 1.0 for spike in expected])


def test_spike_detection_by_hand() -> None:
    """window 3, rtol 2: after [1, 1, 1] the mean is 1 and the threshold 1 + 2 * 1 = 3, so 2.9 is
    not a spike; then the window is [1, 1, 2.9], mean 1.6333, threshold 4.9, and 5 is one
    (|5 - 1.6333| >= 2 * 1.6333). Warm-up step 0 has no threshold (NaN)."""
    trace = run_policy(SpikeDetection(window=3, warmup=1), [1.0, 1.0, 1.0, 2.9, 5.0])
    assert [ACTIONS[a] for a in trace.actions] == ["none"] * 4 + ["skip"]
    assert math.isnan(trace.thresholds[0])
    assert trace.thresholds[3] == 3.0
    assert trace.thresholds[4] == pytest.approx(3 * (1.0 + 1.0 + 2.9) / 3, rel=1e-15)
    assert trace.norms_after[4] == 0.0


def test_spike_detection_nonfinite() -> None:
    """finite_only (Lightning's default): inf and NaN after the warm-up are spikes; with
    finite_only=False NaN is not (it fails every comparison) but inf is (|inf - m| >= rtol * m)."""
    strict = run_policy(SpikeDetection(window=3, warmup=1), [1.0, NAN, INF, 1.0])
    assert [ACTIONS[a] for a in strict.actions] == ["none", "skip", "skip", "none"]
    loose = run_policy(SpikeDetection(window=3, warmup=1, finite_only=False), [1.0, NAN, INF, 1.0])
    assert [ACTIONS[a] for a in loose.actions] == ["none", "none", "skip", "none"]


# --- ZClip --------------------------------------------------------------------------------------


class _ZClipReference:
    """zclip.py's ZClip with the model replaced by a one-entry float64 gradient holding the
    global norm; step returns that gradient as clip_grad_norm_ (warm-up) or
    apply_in_place_clipping leaves it."""

    def __init__(
        self,
        alpha: float = 0.97,
        z_thresh: float = 2.5,
        max_grad_norm: float | None = 1.0,
        eps: float = 1e-6,
        warmup_steps: int = 25,
        mode: str = "zscore",
        clip_option: str = "adaptive_scaling",
        clip_factor: float = 1.0,
        skip_update_on_spike: bool = False,
    ) -> None:
        self.alpha, self.z_thresh, self.max_grad_norm = alpha, z_thresh, max_grad_norm
        self.eps = eps
        self.warmup_steps, self.mode, self.clip_factor = warmup_steps, mode, clip_factor
        self.skip_update_on_spike = skip_update_on_spike
        self.clip_option = clip_option if mode == "zscore" else None
        self.buffer: list[float] = []
        self.initialized = False
        self.mean = 0.0
        self.var = 0.0

    def _initialize_ema(self) -> None:
        self.mean = sum(self.buffer) / len(self.buffer)
        self.var = sum((x - self.mean) ** 2 for x in self.buffer) / len(self.buffer)
        self.initialized = True
        self.buffer = []

    def _update_ema(self, grad_norm: float) -> None:
        self.mean = self.alpha * self.mean + (1 - self.alpha) * grad_norm
        self.var = self.alpha * self.var + (1 - self.alpha) * (grad_norm - self.mean) ** 2

    def _compute_clip_val(self, grad_norm: float) -> float | None:
        std = self.var**0.5
        if self.mode == "percentile":
            threshold = self.mean + self.z_thresh * std
            if grad_norm > threshold:
                return threshold
        elif self.mode == "zscore":
            z = (grad_norm - self.mean) / (std + self.eps)
            if z > self.z_thresh:
                if self.clip_option == "adaptive_scaling":
                    eta = z / self.z_thresh
                    threshold = self.mean + (self.z_thresh * std) / eta
                    threshold = threshold * self.clip_factor
                elif self.clip_option == "mean":
                    threshold = self.mean
                return threshold
        return None

    def step(self, total_norm: float) -> torch.Tensor:
        grad = torch.tensor([total_norm], dtype=torch.float64)  # a gradient of that norm
        if not self.initialized:
            self.buffer.append(total_norm)
            if len(self.buffer) >= self.warmup_steps:
                self._initialize_ema()
            if self.max_grad_norm is not None:
                (grad,) = _clipped_by_torch([grad], self.max_grad_norm)
            return grad
        clip_val = self._compute_clip_val(total_norm)
        adaptive_clip = clip_val if clip_val is not None else total_norm
        effective_clip = adaptive_clip
        if self.max_grad_norm is not None:
            effective_clip = min(adaptive_clip, self.max_grad_norm)
        clip_coef = (effective_clip / (total_norm + 1e-6)) if total_norm > effective_clip else 1.0
        if clip_coef < 1.0:
            grad.mul_(clip_coef)
        if clip_val is not None and self.skip_update_on_spike:
            return grad
        self._update_ema(clip_val if clip_val is not None else total_norm)
        return grad


ZCLIP_SETTINGS = [
    {"warmup_steps": 3},
    {"warmup_steps": 3, "max_grad_norm": None},
    {"warmup_steps": 4, "max_grad_norm": 5.0, "clip_option": "mean", "z_thresh": 2.0},
    {"warmup_steps": 2, "max_grad_norm": None, "mode": "percentile", "z_thresh": 1.5},
    {"warmup_steps": 3, "max_grad_norm": 50.0, "clip_factor": 0.7, "skip_update_on_spike": True},
    {"warmup_steps": 5, "max_grad_norm": 2.0, "alpha": 0.5, "eps": 1e-3},
]


@pytest.mark.parametrize("settings", ZCLIP_SETTINGS)
@pytest.mark.parametrize("name", list(SEQUENCES))
def test_zclip_equals_reference(settings: dict, name: str) -> None:
    """norm * multiplier equals the gradient the transcribed ZClip.step leaves, bit for bit."""
    reference = _ZClipReference(**settings)
    norms = SEQUENCES[name]
    expected = [reference.step(x) for x in norms]
    trace = run_policy(ZClip(**settings), norms)
    for step, grad in enumerate(expected):
        ours = torch.tensor([norms[step]], dtype=torch.float64) * trace.multipliers[step]
        torch.testing.assert_close(ours, grad, rtol=0, atol=0, equal_nan=True)
    assert all(ACTIONS[a] in ("none", "clip") for a in trace.actions)


def test_zclip_by_hand() -> None:
    """warm-up [1, 3]: mean 2, var 1 (population). Then 10: z = 8 / (1 + 1e-6) > 2.5, so the clip
    value is 2 + 2.5 * 1 / (z / 2.5) = 2 + 6.25 / z ~ 2.78125 and the multiplier that over
    10 + 1e-6. The EMA then takes 2.78125: mean 0.97 * 2 + 0.03 * 2.78125 = 2.0234375."""
    state = ZClip(warmup_steps=2, max_grad_norm=None).start()
    for norm in (1.0, 3.0):
        assert state.decide(norm).action == "none"
    z = 8.0 / (1.0 + 1e-6)
    decision = state.decide(10.0)
    assert decision.action == "clip"
    assert decision.multiplier == pytest.approx((2.0 + 6.25 / z) / (10.0 + 1e-6), rel=1e-12)
    # the limit of the z-test: mean + z_thresh * (std + eps) = 2 + 2.5 * (1 + 1e-6)
    assert decision.threshold == pytest.approx(4.5, rel=1e-6)
    follow = ZClip(warmup_steps=2, max_grad_norm=None).start()
    for norm in (1.0, 3.0, 10.0):
        follow.decide(norm)
    # with mean 2.0234375 the next z-limit is 2.0234 + 2.5 * (std + 1e-6) > 2.0234
    assert follow.decide(2.0).threshold > 2.0234375


def test_zclip_nonfinite() -> None:
    """The reference has no finite check: an inf norm has z = inf, clip value = the mean and
    multiplier mean / inf = 0; a NaN norm enters the EMA, after which only the cap clips."""
    trace = run_policy(ZClip(warmup_steps=2, max_grad_norm=None), [1.0, 1.0, INF, 1.0])
    assert trace.multipliers[2] == 0.0
    poisoned = run_policy(ZClip(warmup_steps=2, max_grad_norm=3.0), [1.0, 1.0, NAN, 1.5, 9.0])
    # 1.5 would be z = 0.5 / 1e-6 above a mean of 1 with var 0; with a NaN mean it is left alone
    assert poisoned.multipliers[3] == 1.0
    assert poisoned.multipliers[4] == 3.0 / (9.0 + 1e-6)  # the cap, as apply_in_place_clipping


# --- AutoClip -----------------------------------------------------------------------------------


def _autoclip_reference(norms: list[float], clip_percentile: float) -> list[torch.Tensor]:
    """autoclip.py lines 19-29: append, numpy percentile, torch's clip_grad_norm_ on a gradient
    whose global norm is the recorded one (a one-entry float64 tensor holding it)."""
    grad_history: list[float] = []
    clipped = []
    for obs_grad_norm in norms:
        grad_history.append(obs_grad_norm)
        with np.errstate(invalid="ignore"):  # numpy warns on inf - inf, and gives NaN
            clip_value = np.percentile(grad_history, clip_percentile)
        grad = torch.tensor([obs_grad_norm], dtype=torch.float64)
        clipped.extend(_clipped_by_torch([grad], float(clip_value)))
    return clipped


@pytest.mark.parametrize("percentile", [0.0, 10.0, 50.0, 90.0, 100.0])
@pytest.mark.parametrize("name", list(SEQUENCES))
def test_autoclip_equals_reference_with_torch(percentile: float, name: str) -> None:
    """norm * multiplier equals what torch's clip_grad_norm_ leaves in the gradient, to the bit."""
    norms = SEQUENCES[name]
    expected = _autoclip_reference(norms, percentile)
    trace = run_policy(AutoClip(percentile), norms)
    for step, grad in enumerate(expected):
        ours = torch.tensor([norms[step]], dtype=torch.float64) * trace.multipliers[step]
        torch.testing.assert_close(ours, grad, rtol=0, atol=0, equal_nan=True)


def test_autoclip_by_hand() -> None:
    """p = 50 on [1, 2, 3]: numpy.percentile gives 1, 1.5, 2; the norm 3 at step 3 is clipped by
    torch's coefficient 2 / (3 + 1e-6). A NaN in the history makes every later threshold NaN."""
    trace = run_policy(AutoClip(50.0), [1.0, 2.0, 3.0])
    _same(trace.thresholds, [1.0, 1.5, 2.0])
    assert trace.multipliers[2] == pytest.approx(2.0 / (3.0 + 1e-6), rel=1e-15)
    poisoned = run_policy(AutoClip(50.0), [1.0, NAN, 1.0, 1.0])
    assert np.isnan(poisoned.thresholds[1:]).all()
    assert np.isnan(poisoned.multipliers[1:]).all()


# --- fixed thresholds and skipping --------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0, 3.0])
@pytest.mark.parametrize("name", list(SEQUENCES))
def test_global_norm_torch_equals_clip_grad_norm(threshold: float, name: str) -> None:
    """GlobalNormClip(rule="torch") multiplies as torch's clip_grad_norm_ does, bit for bit, on
    random float64 gradients whose global norm is what the policy is given."""
    gen = torch.Generator().manual_seed(7)
    for norm in SEQUENCES[name]:
        grads = [torch.randn(3, 4, generator=gen, dtype=torch.float64) * norm for _ in range(2)]
        total = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
        clipped = _clipped_by_torch(grads, threshold)
        decision = GlobalNormClip(threshold).start().decide(total)
        for grad, torch_grad in zip(grads, clipped, strict=True):
            ours = grad * decision.multiplier
            torch.testing.assert_close(ours, torch_grad, rtol=0, atol=0, equal_nan=True)


def test_global_norm_rules_by_hand() -> None:
    """Pascanu et al. 2013, Algorithm 1: norm >= t scales by t / norm (4 at t=2: 0.5); NaN is left
    alone. optax.clip_by_global_norm: norm < t untouched, NaN gives NaN. torch: t / (t + 1e-6)
    even at the threshold, 0 for an inf norm."""
    pascanu = run_policy(GlobalNormClip(2.0, "pascanu"), [1.0, 2.0, 4.0, INF, NAN])
    _same(pascanu.multipliers, [1.0, 1.0, 0.5, 0.0, 1.0])
    optax = run_policy(GlobalNormClip(2.0, "optax"), [1.0, 4.0, NAN])
    _same(optax.multipliers, [1.0, 0.5, NAN])
    torch_rule = run_policy(GlobalNormClip(2.0), [2.0, INF])
    assert torch_rule.multipliers[0] == pytest.approx(2.0 / (2.0 + 1e-6), rel=1e-15)
    assert torch_rule.actions[0] == ACTIONS.index("clip")
    assert torch_rule.multipliers[1] == 0.0
    assert math.isnan(torch_rule.norms_after[1])  # inf * 0: torch leaves NaN where inf was


@pytest.mark.parametrize("limit", [0.5, 1.0, 5.0, INF])
@pytest.mark.parametrize("name", list(SEQUENCES))
def test_skip_equals_optax_skip_large_updates(limit: float, name: str) -> None:
    """optax: should_skip = logical_not(norm_sq < max_squared_norm), NaN skipped; limit inf is
    Megatron's found_inf rule (skip inf and NaN only)."""
    norms = SEQUENCES[name]
    expected = [bool(np.logical_not(np.float64(x) ** 2 < np.float64(limit) ** 2)) for x in norms]
    trace = run_policy(SkipAboveThreshold(limit), norms)
    assert list(trace.actions == ACTIONS.index("skip")) == expected
    _same(trace.norms_after, [0.0 if skip else x for skip, x in zip(expected, norms, strict=True)])


# --- traces and bad input -----------------------------------------------------------------------


def test_trace_counts_and_flat_sequence() -> None:
    """On a flat sequence of 1.0 nothing adaptive acts: ZClip's z is 0, Lightning sees no rise,
    AutoClip's percentile is 1 but torch's coefficient 1 / (1 + 1e-6) still scales (torch always
    multiplies), so AutoClip clips every step by a hair."""
    assert run_policy(ZClip(warmup_steps=3, max_grad_norm=None), FLAT).count("none") == 12
    assert run_policy(SpikeDetection(), FLAT).count("skip") == 0
    autoclip = run_policy(AutoClip(50.0), FLAT)
    assert autoclip.count("clip") == 12
    assert autoclip.norms_after[0] == pytest.approx(1.0 / (1.0 + 1e-6), rel=1e-15)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: AutoClip(101.0), "percentile must be a real number in [0, 100]"),
        (lambda: ZClip(alpha=1.5), "alpha must be a real number in [0, 1]"),
        (lambda: ZClip(warmup_steps=0), "warmup_steps must be an integer in [1, "),
        (lambda: ZClip(mode="median"), "mode must be one of 'zscore', 'percentile'"),
        (lambda: SpikeDetection(window=0), "window must be an integer in [1, "),
        (lambda: SpikeDetection(rtol=-1.0), "rtol must be a real number in [0, "),
        (lambda: SpikeDetection(finite_only=1), "finite_only must be True or False"),
        (lambda: GlobalNormClip(0.0, "pascanu"), "threshold must be a real number in (0, "),
        (lambda: GlobalNormClip(1.0, "keras"), "rule must be one of 'torch', 'pascanu', 'optax'"),
        (lambda: SkipAboveThreshold(NAN), "limit must be a real number in (0, "),
    ],
)
def test_bad_settings_are_named(make: object, message: str) -> None:
    """Each refusal names the argument and its range."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        make()  # type: ignore[operator]


def test_bad_norms_are_named() -> None:
    """A negative norm or a 2-D array is refused; inf and NaN are data."""
    with pytest.raises(ValueError, match="norms must be >= 0"):
        run_policy(AutoClip(), [1.0, -1.0])
    with pytest.raises(ValueError, match="1-D sequence"):
        run_policy(AutoClip(), [[1.0]])
    with pytest.raises(ValueError, match="norm must be a real number >= 0"):
        ZClip().start().decide(-INF)
    assert run_policy(ZClip(), [INF, NAN]).norms.shape == (2,)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(min_value=0.0, max_value=1e300), st.just(math.inf)),
        min_size=1,
        max_size=40,
    ),
    st.one_of(st.floats(min_value=0.0, max_value=100.0), st.sampled_from([0.0, 50.0, 100.0])),
)
def test_linear_percentile_is_numpys_to_the_bit(values: list[float], percentile: float) -> None:
    """AutoClip's sorted-list percentile against numpy.percentile itself (inf included, where
    numpy's interpolation gives inf or NaN)."""
    with np.errstate(invalid="ignore"):  # numpy's inf - inf, as AutoClip's reference meets it
        expected = float(np.percentile(values, percentile))
    got = linear_percentile(sorted(values), percentile)
    assert got == expected or (math.isnan(got) and math.isnan(expected))
