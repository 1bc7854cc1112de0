"""Replay a recorded run under other clipping policies: what each would have done, step by step.

``replay_clipping(history, policies)`` runs each policy (``explorer.core.policies``) over the
global gradient norms a ``GradientRecorder`` saved, and tells per step whether it would have left
the gradient alone, clipped it or skipped the update, with its multiplier; it compares that with
what the run did live (its clip method or live policy, or nothing) and estimates how far each
update would have moved the weights.

What a replay can know, and what it cannot (``LIMITS`` says it to users):

- Up to and including the first step where a policy decides differently from the run
  (``first_change``), the policy would have seen exactly these norms: its decisions there are
  exact. After that step its run would have had other weights, other gradients and other norms,
  which no recording holds. The replay goes on deciding on the recorded norms: it shows how the
  rule reacts to this run's norms, not the run it would have made.
- The update norm is the recorded one, ||Δθ|| per tensor, scaled by the policy's multiplier over
  the multiplier applied live, and 0 where the policy skips. That is exact for plain SGD (the
  update is the learning rate times the gradient) and an estimate with momentum or Adam, whose
  update is not proportional to one step's gradient. It is NaN where the run's update norms were
  not recorded (no ``optimizer=``) or where the live multiplier was 0 or unknown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from explorer.core._types import FloatArray
from explorer.core.monitor import GradientHistory, global_norms
from explorer.core.policies import ACTIONS, Policy, PolicyTrace, run_policy

# Multipliers this close (relative) are the same decision: a float32 run computes its clip
# coefficient in float32 (resolution 6e-8), the policies in float64.
SAME_MULTIPLIER = 1e-6
MAX_POLICIES = 16

LIMITS = (
    "A replay runs each policy on the norms this run recorded. Its decisions are exact up to the"
    " first step where it decides differently from the run; after that step its own run would"
    " have had other weights and other gradients, which no recording holds. Update sizes scale"
    " the recorded updates by the policy's multiplier: exact for plain SGD, an estimate with"
    " momentum or Adam."
)

CLIP, SKIP = ACTIONS.index("clip"), ACTIONS.index("skip")


@dataclass(frozen=True)
class LiveClipping:
    """What the run did at each step, as the recording tells it."""

    label: str  # "no clipping", the clip method and threshold, or the live policy's label
    actions: npt.NDArray[np.int8]  # (steps,) index into ACTIONS
    multipliers: FloatArray  # (steps,) the one multiplier applied to every tensor; NaN if none
    update_norms: FloatArray  # (steps,) the global update norm measured; NaN where not measured


@dataclass(frozen=True)
class PolicyReplay:
    """One policy replayed over a recording."""

    trace: PolicyTrace  # its decisions on the recorded norms
    update_norms: FloatArray  # (steps,) the global update norm it would have made (see LIMITS)
    first_change: int | None  # the first step it decides differently from the run; None: never

    @property
    def label(self) -> str:
        """The policy's label."""
        return self.trace.label

    @property
    def exact_steps(self) -> int:
        """How many steps, from the first, replay the run exactly (through the first change)."""
        steps = len(self.trace.norms)
        return steps if self.first_change is None else self.first_change + 1


@dataclass(frozen=True)
class Replay:
    """A recording replayed under several policies, beside what the run did live."""

    live: LiveClipping
    policies: tuple[PolicyReplay, ...]
    limits: str = LIMITS

    @property
    def steps(self) -> int:
        """How many steps were replayed."""
        return len(self.live.actions)


def live_clipping(history: GradientHistory) -> LiveClipping:
    """What the run recorded in ``history`` did at each step."""
    coefficients = history.clip_coefficients
    multipliers = np.full(history.steps, np.nan)
    if coefficients.size:  # per step, the multiplier if every tensor had the same one
        uniform = np.all(coefficients == coefficients[:, :1], axis=1)  # NaN is never uniform
        multipliers[uniform] = coefficients[uniform, 0]
    actions = np.where(history.clipped, CLIP, 0).astype(np.int8)
    actions[history.skipped] = SKIP
    multipliers[history.skipped] = 0.0
    return LiveClipping(
        label=_live_label(history),
        actions=actions,
        multipliers=multipliers,
        update_norms=global_norms(history.update_norms),
    )


def _live_label(history: GradientHistory) -> str:
    if history.policy is not None:
        return history.policy
    if history.clip_method is None:
        return "no clipping"
    return f"{history.clip_method.replace('_', ' ')} {history.clip_threshold:g}"


def _first_change(live: LiveClipping, trace: PolicyTrace) -> int | None:
    """The first step whose action, or clip multiplier (beyond SAME_MULTIPLIER), differs."""
    with np.errstate(invalid="ignore"):
        close = np.isclose(trace.multipliers, live.multipliers, rtol=SAME_MULTIPLIER, atol=0.0)
    same_multiplier = close | (np.isnan(trace.multipliers) & np.isnan(live.multipliers))
    differs = (trace.actions != live.actions) | ((trace.actions == CLIP) & ~same_multiplier)
    return int(np.argmax(differs)) if differs.any() else None


def _update_norms(history: GradientHistory, trace: PolicyTrace) -> FloatArray:
    """The recorded update of each tensor scaled by the policy's multiplier over the live one
    (1 where they agree, to keep the recorded value exactly); 0 where the policy skips."""
    live = history.clip_coefficients
    wanted = trace.multipliers[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(wanted == live, 1.0, wanted / live)
        scale = np.where(live == 0.0, np.nan, scale)  # a skipped or zeroed update: unknown
        estimate = global_norms(history.update_norms * scale)
    estimate[trace.actions == SKIP] = 0.0
    return estimate


def replay_clipping(history: GradientHistory, policies: Sequence[Policy]) -> Replay:
    """Replay ``history`` (a recording) under each of ``policies``, in order (see the module)."""
    if not isinstance(history, GradientHistory):
        raise ValueError(
            f"history must be a GradientHistory (a recorder's history() or GradientHistory.load),"
            f" got {type(history).__name__}"
        )
    chosen = list(policies) if isinstance(policies, Sequence) else []
    if not 1 <= len(chosen) <= MAX_POLICIES or not all(
        callable(getattr(p, "start", None)) for p in chosen
    ):
        raise ValueError(
            f"policies must be a sequence of 1 to {MAX_POLICIES} clipping policies"
            " (explorer.core.policies), got "
            f"{policies!r}"[:200]
        )
    live = live_clipping(history)
    replays = []
    for policy in chosen:
        trace = run_policy(policy, history.grad_norms)
        replays.append(
            PolicyReplay(
                trace=trace,
                update_norms=_update_norms(history, trace),
                first_change=_first_change(live, trace),
            )
        )
    return Replay(live=live, policies=tuple(replays))


def total_movement(update_norms: FloatArray) -> float:
    """The path length of a run's weights over the steps whose update is known: the sum of its
    update norms, NaN ones (not measured) left out; NaN if none is known, inf if one is inf."""
    known = update_norms[~np.isnan(update_norms)]
    return math.fsum(known.tolist()) if known.size else math.nan
