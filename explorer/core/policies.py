"""Clipping policies: what a rule decides, step by step, from the global gradient norm alone.

A policy is a frozen settings dataclass; ``policy.start()`` gives a fresh state whose
``decide(norm)`` says, for one step, whether the rule leaves the gradient alone ("none"), scales
it ("clip") or drops the update ("skip"), the multiplier it applies (1, a factor below 1, or 0)
and the threshold in force: the norm above which the rule acts at this step. ``run_policy`` runs a
policy over a whole sequence of norms, as live in a training loop or in a replay of a recording.

Each policy transcribes a published rule, in the order its reference code does it:

- ``GlobalNormClip``: the fixed threshold of ``torch.nn.utils.clip_grad_norm_`` (coefficient
  t / (norm + 1e-6), clamped to 1 and always multiplied in), of Pascanu et al. 2013, Algorithm 1
  (scale by t / norm when norm >= t) or of ``optax.clip_by_global_norm`` (untouched if norm < t).
- ``SpikeDetection``: Lightning's ``SpikeDetection`` callback (a running mean over a window, a
  relative and an absolute tolerance, a warm-up) applied to the gradient norm.
- ``ZClip``: Kumar et al. 2025, an EMA of the norm's mean and variance and a z-score threshold.
- ``AutoClip``: Seetharaman et al. 2020, the p-th percentile of all the norms seen so far.
- ``SkipAboveThreshold``: skip the update when the norm is not below a limit, as optax's
  ``skip_large_updates`` does (and Megatron-LM's mixed-precision optimizer for inf/NaN).

inf and NaN norms are data: each rule does with them what its reference code does (written in
each class). Norms are taken as float64; torch computes a float32 run's coefficients in float32.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from explorer.core._types import FloatArray
from explorer.core._validate import MAX_THRESHOLD, check_choice, check_float, check_int

ACTIONS = ("none", "clip", "skip")  # PolicyTrace.actions holds each one's index: 0, 1, 2
TORCH_EPS = 1e-6  # clip_grad_norm_'s epsilon in max_norm / (norm + 1e-6)
MAX_STEPS = 10**9  # the largest window or warm-up accepted
GLOBAL_RULES = ("torch", "pascanu", "optax")


@dataclass(frozen=True)
class Decision:
    """What a policy does at one step."""

    action: str  # one of ACTIONS
    multiplier: float  # applied to the gradient: 1.0, a clip factor (NaN if the rule makes it), 0
    threshold: float  # the norm above which the rule acts at this step; NaN while it has none


class PolicyState(Protocol):
    """A running policy: feed it each step's global norm in order."""

    def decide(self, norm: float) -> Decision:
        """The decision for the next step, whose global gradient norm is ``norm``."""
        ...


class Policy(Protocol):
    """A policy's settings: ``start()`` gives a fresh state, ``label`` names it for people."""

    @property
    def label(self) -> str:
        """A short name with the settings, e.g. 'ZClip (z=2.5)'."""
        ...

    def start(self) -> PolicyState:
        """A fresh state, as at the first step of a run."""
        ...


@dataclass(frozen=True)
class PolicyTrace:
    """A policy run over a sequence of global norms, one entry per step."""

    label: str
    norms: FloatArray  # (steps,) the global norm before the policy
    actions: npt.NDArray[np.int8]  # (steps,) index into ACTIONS: 0 none, 1 clip, 2 skip
    multipliers: FloatArray  # (steps,)
    thresholds: FloatArray  # (steps,) NaN where the rule had none
    norms_after: FloatArray  # (steps,) multiplier * norm, 0 where the update is skipped

    def count(self, action: str) -> int:
        """How many steps took ``action`` ('none', 'clip' or 'skip')."""
        index = ACTIONS.index(check_choice("action", action, ACTIONS))
        return int(np.count_nonzero(self.actions == index))


def check_norm(norm: object) -> float:
    """Return ``norm`` as a float if it is >= 0, inf or NaN (a norm is never negative)."""
    if isinstance(norm, bool) or not isinstance(norm, (int, float, np.floating, np.integer)):
        raise ValueError(f"norm must be a real number >= 0 (inf and NaN allowed), got {norm!r}")
    value = float(norm)
    if value < 0:
        raise ValueError(f"norm must be a real number >= 0 (inf and NaN allowed), got {value}")
    return value


def torch_coefficient(threshold: float, norm: float) -> float:
    """clip_grad_norm_'s multiplier: clamp(t / (norm + 1e-6), max=1), NaN kept.

    torch evaluates the float t over a tensor as t * reciprocal(tensor): so do we, to the bit.
    """
    coefficient = threshold * (1.0 / (norm + TORCH_EPS))
    return coefficient if math.isnan(coefficient) else min(coefficient, 1.0)


def _scaled(multiplier: float, threshold: float) -> Decision:
    """A decision that multiplies by ``multiplier``: 'none' exactly when it is 1."""
    return Decision("none" if multiplier == 1.0 else "clip", multiplier, threshold)


def _check_optional(name: str, value: float | None) -> float | None:
    """None, or a real number in [0, MAX_THRESHOLD]."""
    return None if value is None else check_float(name, value, 0.0, MAX_THRESHOLD)


@dataclass(frozen=True)
class GlobalNormClip:
    """Clip the global norm at a fixed threshold, as the existing methods do.

    rule "torch": ``torch.nn.utils.clip_grad_norm_`` (torch/nn/utils/clip_grad.py): multiplier
    min(t / (norm + 1e-6), 1), always applied, so a norm at t is scaled by t / (t + 1e-6); an inf
    norm gives 0 and a NaN norm NaN. rule "pascanu": Pascanu, Mikolov and Bengio 2013, Algorithm
    1: t / norm when norm >= t (an inf norm gives 0, NaN leaves the gradient alone). rule "optax":
    ``optax.clip_by_global_norm``: untouched if norm < t, else t / norm (NaN gives NaN).
    """

    threshold: float = 1.0
    rule: str = "torch"

    def __post_init__(self) -> None:
        check_choice("rule", self.rule, GLOBAL_RULES)
        zero_ok = self.rule == "torch"  # clip_grad_norm_ takes 0; the others divide by t's norm
        check_float("threshold", self.threshold, 0.0, MAX_THRESHOLD, low_open=not zero_ok)

    @property
    def label(self) -> str:
        """e.g. 'global norm 1 (torch)'."""
        return f"global norm {self.threshold:g} ({self.rule})"

    def start(self) -> _GlobalNormState:
        """A fixed threshold keeps no state."""
        return _GlobalNormState(self)


@dataclass
class _GlobalNormState:
    settings: GlobalNormClip

    def decide(self, norm: float) -> Decision:
        """Scale as the rule's library call does."""
        norm, threshold = check_norm(norm), self.settings.threshold
        if self.settings.rule == "torch":
            return _scaled(torch_coefficient(threshold, norm), threshold)
        acts = norm >= threshold if self.settings.rule == "pascanu" else not norm < threshold
        return _scaled(threshold / norm if acts else 1.0, threshold)


@dataclass(frozen=True)
class SkipAboveThreshold:
    """Skip the update when the global norm is not below ``limit``.

    optax's ``skip_large_updates`` (optax/transforms/_accumulation.py): skip unless
    ||g||^2 < max_squared_norm, so an inf or NaN norm is skipped too. A limit of inf skips only
    inf and NaN norms, as Megatron-LM's mixed-precision optimizer does ("If we found inf/nan, skip
    the update", MixedPrecisionOptimizer.step in megatron/core/optimizer/optimizer.py).
    """

    limit: float = math.inf

    def __post_init__(self) -> None:
        if self.limit != math.inf:
            check_float("limit", self.limit, 0.0, MAX_THRESHOLD, low_open=True)

    @property
    def label(self) -> str:
        """e.g. 'skip at 10'."""
        return "skip inf/NaN" if self.limit == math.inf else f"skip at {self.limit:g}"

    def start(self) -> _SkipState:
        """A fixed limit keeps no state."""
        return _SkipState(self.limit)


@dataclass
class _SkipState:
    limit: float

    def decide(self, norm: float) -> Decision:
        """Skip unless norm < limit (NaN compares False: skipped)."""
        if check_norm(norm) < self.limit:
            return Decision("none", 1.0, self.limit)
        return Decision("skip", 0.0, self.limit)


@dataclass(frozen=True)
class AutoClip:
    """AutoClip (Seetharaman, Wichern, Pardo and Le Roux 2020, "AutoClip: Adaptive Gradient
    Clipping for Source Separation Networks"; code github.com/pseeth/autoclip, autoclip.py).

    Each step appends the norm to the history, takes ``numpy.percentile(history, percentile)``
    (linear interpolation) as the threshold and calls ``clip_grad_norm_`` with it, so the
    multiplier is torch's. A NaN norm stays in the history: numpy's percentile is then NaN for
    the rest of the run and so is every multiplier (the reference code does the same). The
    percentile is taken on a sorted copy of the history (``linear_percentile``), equal to
    numpy's to the bit.
    """

    percentile: float = 10.0

    def __post_init__(self) -> None:
        check_float("percentile", self.percentile, 0.0, 100.0)

    @property
    def label(self) -> str:
        """e.g. 'AutoClip (p=10)'."""
        return f"AutoClip (p={self.percentile:g})"

    def start(self) -> _AutoClipState:
        """An empty history."""
        return _AutoClipState(self.percentile)


@dataclass
class _AutoClipState:
    percentile: float
    ordered: list[float] = field(default_factory=list)  # the finite and infinite norms, sorted
    nan_seen: bool = False

    def decide(self, norm: float) -> Decision:
        """Add the norm, take the percentile, clip as clip_grad_norm_ does."""
        norm = check_norm(norm)
        if math.isnan(norm):
            self.nan_seen = True
        else:
            bisect.insort(self.ordered, norm)
        threshold = math.nan if self.nan_seen else linear_percentile(self.ordered, self.percentile)
        return _scaled(torch_coefficient(threshold, norm), threshold)


def linear_percentile(ordered: Sequence[float], percentile: float) -> float:
    """``numpy.percentile(values, percentile)`` (method "linear") of values already sorted, with
    numpy's own float operations, so equal to the bit (numpy sorts, then interpolates between the
    two neighbours of the index (n - 1)·p/100 as its ``_lerp`` does). O(1) on a sorted list where
    numpy's call costs a partition and its overhead at every step."""
    count = len(ordered)
    virtual = (count - 1) * (percentile / 100)
    if virtual >= count - 1:  # numpy takes the last value, at index -1
        below, above, index = ordered[-1], ordered[-1], -1
    elif virtual < 0:
        below, above, index = ordered[0], ordered[0], 0
    else:
        index = math.floor(virtual)
        below, above = ordered[index], ordered[index + 1]
    gamma = virtual - index
    difference = above - below
    if gamma >= 0.5:
        return above - difference * (1 - gamma)
    return below + difference * gamma


@dataclass(frozen=True)
class SpikeDetection:
    """Lightning's spike detection on the gradient norm: a spike's update is skipped.

    Source: ``lightning.fabric.utilities.spike.SpikeDetection`` (src/lightning/fabric/utilities/
    spike.py), mode "min" (a rise is bad), with torchmetrics' ``Running(MeanMetric(), window)``.
    At step i (from 0) the norm x is a spike when i >= warmup and: x is not finite (finite_only),
    or x rose since the last accepted norm and |x - m| >= atol and |x - m| >= rtol * |m|, where m
    is the mean of the last ``window`` accepted norms (None skips that test). A spike leaves the
    statistics unchanged; any other step adds x to the window and makes it the last norm, except
    that with finite_only=False an inf or NaN is not added. As in torchmetrics, a NaN added (only
    during warm-up with finite_only=True) takes a slot of the window but no weight, and the mean
    of no values is NaN, which no test passes. Lightning stops the run at a spike and, resumed,
    skips that batch and the one before; here the update is skipped and the run goes on (the
    batch before has already moved the weights). The threshold reported is m + max(rtol * |m|,
    atol): a norm at or above it that rose since the last accepted one is a spike.
    """

    window: int = 10
    warmup: int = 1
    atol: float | None = None
    rtol: float | None = 2.0
    finite_only: bool = True

    def __post_init__(self) -> None:
        check_int("window", self.window, 1, MAX_STEPS)
        check_int("warmup", self.warmup, 0, MAX_STEPS)
        _check_optional("atol", self.atol)
        _check_optional("rtol", self.rtol)
        if not isinstance(self.finite_only, bool):
            raise ValueError(f"finite_only must be True or False, got {self.finite_only!r}")

    @property
    def label(self) -> str:
        """e.g. 'spike (window 10, rtol 2)'."""
        tolerances = [f"{name} {value:g}" for name, value in self._tolerances() if value]
        return f"spike (window {self.window}, {', '.join(tolerances) or 'any rise'})"

    def _tolerances(self) -> list[tuple[str, float | None]]:
        return [("rtol", self.rtol), ("atol", self.atol)]

    def start(self) -> _SpikeState:
        """An empty window (every slot holds torchmetrics' default: value 0, weight 0)."""
        return _SpikeState(self, [0.0] * self.window, [0.0] * self.window)


@dataclass
class _SpikeState:
    settings: SpikeDetection
    slot_sums: list[float]  # MeanMetric's mean_value state of each window slot
    slot_weights: list[float]  # its weight state: 1 per value added, 0 for a NaN
    seen: int = 0  # values added to the window (Running's _num_vals_seen)
    last: float = 0.0  # Lightning's last_val: 0.0 until a value is added
    step: int = 0

    def running_mean(self) -> float:
        """Running.compute(): the slots summed in slot order, sum over weight (0/0 is NaN)."""
        total, weight = 0.0, 0.0
        for slot_sum, slot_weight in zip(self.slot_sums, self.slot_weights, strict=True):
            total, weight = total + slot_sum, weight + slot_weight
        return total / weight if weight else math.nan

    def _is_spike(self, norm: float, mean: float) -> bool:
        settings = self.settings
        if settings.finite_only and not math.isfinite(norm):
            return True
        if norm - self.last <= 0.0:  # an improvement (NaN compares False: not one)
            return False
        gap = abs(norm - mean)
        atol_ok = settings.atol is None or gap >= abs(settings.atol)
        return atol_ok and (settings.rtol is None or gap >= abs(settings.rtol * mean))

    def decide(self, norm: float) -> Decision:
        """Spike: skip and leave the statistics; else add the norm (see SpikeDetection)."""
        norm, settings = check_norm(norm), self.settings
        mean = self.running_mean()
        tolerance = max(abs((settings.rtol or 0.0) * mean), settings.atol or 0.0)
        threshold = mean + tolerance if self.step >= settings.warmup else math.nan
        spike = self.step >= settings.warmup and self._is_spike(norm, mean)
        self.step += 1
        if spike:
            return Decision("skip", 0.0, threshold)
        if settings.finite_only or math.isfinite(norm):
            slot = self.seen % settings.window
            finite_weight = 0.0 if math.isnan(norm) else 1.0  # MeanMetric drops a NaN
            self.slot_sums[slot] = norm if finite_weight else 0.0
            self.slot_weights[slot] = finite_weight
            self.seen += 1
            self.last = norm
        return Decision("none", 1.0, threshold)


@dataclass(frozen=True)
class ZClip:
    """ZClip (Kumar, Owen, Roy Chowdhury and Güra 2025, "ZClip: Adaptive Spike Mitigation for
    LLM Pre-Training"; code github.com/bluorion-com/ZClip, zclip/zclip.py, class ZClip).

    Warm-up: the first ``warmup_steps`` norms are collected (clipped at ``max_grad_norm`` by
    clip_grad_norm_, if given); then mean = their average and var = their population variance.
    After: std = sqrt(var). mode "zscore": z = (x - mean) / (std + eps); if z > z_thresh the clip
    value is mean + z_thresh * std / (z / z_thresh), times ``clip_factor`` (clip_option
    "adaptive_scaling"), or mean ("mean"). mode "percentile": clip value mean + z_thresh * std when
    x exceeds it. The clip value (x if none) is capped at ``max_grad_norm``; when x exceeds that
    cap c the multiplier is c / (x + 1e-6). Then the EMA takes the clip value (x if none): mean <-
    alpha * mean + (1 - alpha) * v; var <- alpha * var + (1 - alpha) * (v - new mean)^2 (unless
    ``skip_update_on_spike`` and a clip value was computed). The reference code has no finite
    check: a NaN norm makes mean NaN for good (no z-test passes after it, only the cap clips) and
    an inf norm gives z = inf, so its clip value is the mean and its multiplier 0.
    """

    alpha: float = 0.97
    z_thresh: float = 2.5
    max_grad_norm: float | None = 1.0
    eps: float = 1e-6
    warmup_steps: int = 25
    mode: str = "zscore"
    clip_option: str = "adaptive_scaling"
    clip_factor: float = 1.0
    skip_update_on_spike: bool = False

    def __post_init__(self) -> None:
        check_float("alpha", self.alpha, 0.0, 1.0)
        check_float("z_thresh", self.z_thresh, 0.0, MAX_THRESHOLD, low_open=True)
        if self.max_grad_norm is not None:
            check_float("max_grad_norm", self.max_grad_norm, 0.0, MAX_THRESHOLD)
        check_float("eps", self.eps, 0.0, 1.0)
        check_int("warmup_steps", self.warmup_steps, 1, MAX_STEPS)
        check_choice("mode", self.mode, ("zscore", "percentile"))
        check_choice("clip_option", self.clip_option, ("adaptive_scaling", "mean"))
        check_float("clip_factor", self.clip_factor, 0.0, MAX_THRESHOLD, low_open=True)
        if not isinstance(self.skip_update_on_spike, bool):
            raise ValueError(
                f"skip_update_on_spike must be True or False, got {self.skip_update_on_spike!r}"
            )

    @property
    def label(self) -> str:
        """e.g. 'ZClip (z=2.5)'."""
        return f"ZClip (z={self.z_thresh:g})"

    def start(self) -> _ZClipState:
        """Collecting the warm-up norms."""
        return _ZClipState(self)


@dataclass
class _ZClipState:
    settings: ZClip
    buffer: list[float] = field(default_factory=list)
    mean: float | None = None  # None until the warm-up ends
    var: float = 0.0

    def _cap(self) -> float:
        cap = self.settings.max_grad_norm
        return math.inf if cap is None else cap

    def _clip_value(self, norm: float, mean: float) -> tuple[float | None, float]:
        """ZClip._compute_clip_val, and the norm above which it returns a value (the limit)."""
        settings, std = self.settings, self.var**0.5
        if settings.mode == "percentile":
            limit = mean + settings.z_thresh * std
            return (limit if norm > limit else None), limit
        z = (norm - mean) / (std + settings.eps)
        limit = mean + settings.z_thresh * (std + settings.eps)
        if not z > settings.z_thresh:
            return None, limit
        if settings.clip_option == "mean":
            return mean, limit
        eta = z / settings.z_thresh
        return (mean + (settings.z_thresh * std) / eta) * settings.clip_factor, limit

    def decide(self, norm: float) -> Decision:
        """One ZClip.step on a model whose global norm is ``norm``."""
        norm, settings = check_norm(norm), self.settings
        if self.mean is None:
            self.buffer.append(norm)
            if len(self.buffer) >= settings.warmup_steps:
                self.mean = sum(self.buffer) / len(self.buffer)
                self.var = sum((x - self.mean) ** 2 for x in self.buffer) / len(self.buffer)
                self.buffer = []
            if settings.max_grad_norm is None:
                return Decision("none", 1.0, math.inf)
            return _scaled(torch_coefficient(settings.max_grad_norm, norm), settings.max_grad_norm)
        clip_value, limit = self._clip_value(norm, self.mean)
        adaptive = norm if clip_value is None else clip_value
        # Python's min keeps its first argument unless the second is smaller (so a NaN stays)
        effective = adaptive if settings.max_grad_norm is None else min(adaptive, self._cap())
        coefficient = effective / (norm + TORCH_EPS) if norm > effective else 1.0
        multiplier = coefficient if coefficient < 1.0 else 1.0
        if not (clip_value is not None and settings.skip_update_on_spike):
            value = adaptive
            self.mean = settings.alpha * self.mean + (1 - settings.alpha) * value
            self.var = settings.alpha * self.var + (1 - settings.alpha) * (value - self.mean) ** 2
        threshold = self._cap() if math.isnan(limit) else min(limit, self._cap())
        return _scaled(multiplier, threshold)


def run_policy(policy: Policy, norms: npt.ArrayLike | Sequence[float]) -> PolicyTrace:
    """Run ``policy`` from a fresh start over ``norms`` (one global norm per step, in order)."""
    values = np.asarray(norms, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"norms must be a 1-D sequence of global norms, got shape {values.shape}")
    if np.any(values < 0):
        raise ValueError("norms must be >= 0 (inf and NaN allowed), got a negative norm")
    state = policy.start()
    decisions = [state.decide(float(norm)) for norm in values]
    actions = np.array([ACTIONS.index(d.action) for d in decisions], dtype=np.int8)
    multipliers = np.array([d.multiplier for d in decisions], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        after = np.where(actions == ACTIONS.index("skip"), 0.0, multipliers * values)
    return PolicyTrace(
        label=policy.label,
        norms=values,
        actions=actions,
        multipliers=multipliers,
        thresholds=np.array([d.threshold for d in decisions], dtype=np.float64),
        norms_after=after,
    )
