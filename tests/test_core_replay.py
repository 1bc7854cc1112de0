"""Replaying a recording under clipping policies, and running a policy live in the recorder.

References: torch itself. A run trained with ``torch.nn.utils.clip_grad_norm_`` in the loop is
what a fixed-threshold policy's replay of the unclipped run must say up to its first changed
step; update norms are measured directly as ||θ_after − θ_before||; a skipped step must leave the
weights and the optimizer's state as torch left them before it. Policies' own decisions are tested
against their reference rules in test_core_policies.py; here, live equals replay.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from explorer.core.monitor import GradientHistory, GradientRecorder
from explorer.core.policies import (
    AutoClip,
    GlobalNormClip,
    SkipAboveThreshold,
    SpikeDetection,
    ZClip,
    run_policy,
)
from explorer.core.replay import live_clipping, replay_clipping, total_movement

STEPS = 12
SKIP_LIMIT = 10.0  # only the spike batch passes it
THRESHOLD = 4.0  # above every norm of the unclipped run before the spike at step 7


def _model() -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        return torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(8)
    batches = []
    for step in range(STEPS):
        scale = 30.0 if step == 7 else 1.0  # one batch whose targets make a spike
        batches.append((torch.randn(8, 5, generator=gen), scale * torch.randn(8, 1, generator=gen)))
    return batches


def _loss(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return torch.nn.functional.mse_loss(model(x), y)


def _recorded(
    optimizer_name: str = "sgd", **recorder_options: object
) -> tuple[GradientHistory, torch.nn.Module, torch.optim.Optimizer]:
    model = _model()
    optimizer = _optimizer(optimizer_name, model)
    recorder = GradientRecorder(model, optimizer=optimizer, **recorder_options)  # type: ignore[arg-type]
    for batch in _batches():
        optimizer.zero_grad()
        loss = _loss(model, batch)
        loss.backward()  # type: ignore[no-untyped-call]
        recorder.record(loss)
        optimizer.step()
    return recorder.history(), model, optimizer


def _optimizer(name: str, model: torch.nn.Module) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=0.05)
    return torch.optim.SGD(model.parameters(), lr=0.05)


def _torch_clipped_run() -> tuple[list[float], list[float], list[float]]:
    """The same training with clip_grad_norm_(THRESHOLD) in the loop: per step torch's total norm,
    the multiplier it applied (gradient norm after over before) and the update norm."""
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    norms, multipliers, updates = [], [], []
    for batch in _batches():
        optimizer.zero_grad()
        _loss(model, batch).backward()  # type: ignore[no-untyped-call]
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        before = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])).item()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), THRESHOLD).item()
        after = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])).item()
        weights = [p.detach().clone() for p in model.parameters()]
        optimizer.step()
        moved = [p.detach() - w for p, w in zip(model.parameters(), weights, strict=True)]
        updates.append(torch.linalg.vector_norm(torch.cat([m.flatten() for m in moved])).item())
        norms.append(norm)
        multipliers.append(after / before)
    return norms, multipliers, updates


def test_fixed_threshold_replay_equals_what_clip_grad_norm_did_live() -> None:
    """Replaying the unclipped run at THRESHOLD says what torch did with clip_grad_norm_ in the
    loop, up to and including the first step it clipped; after it the runs differ, as LIMITS
    says."""
    history, _, _ = _recorded()
    replay = replay_clipping(history, [GlobalNormClip(THRESHOLD)]).policies[0]
    norms, multipliers, updates = _torch_clipped_run()
    first_clip = next(step for step, m in enumerate(multipliers) if m < 1.0 - 1e-6)
    assert first_clip == 7  # the spike batch
    assert replay.first_change == first_clip  # the unclipped run never clipped
    assert replay.exact_steps == first_clip + 1
    exact = slice(0, first_clip + 1)
    # the same weights up to the first change: the same norms, to the bit
    assert history.grad_norms[exact].tolist() == norms[exact]
    np.testing.assert_allclose(replay.trace.multipliers[exact], multipliers[exact], rtol=1e-5)
    np.testing.assert_allclose(replay.update_norms[exact], updates[exact], rtol=1e-5)
    assert replay.trace.actions[first_clip] == 1  # "clip"
    # after the first change the clipped run's norms are not the recorded ones
    after = slice(first_clip + 1, STEPS)
    assert not np.allclose(history.grad_norms[after], norms[after], rtol=1e-3)


def test_replay_of_the_live_clipping_changes_nothing() -> None:
    """A run clipped live at THRESHOLD, replayed at THRESHOLD: no step changes, the multipliers
    are the recorded ones (float32 rounding apart) and so are the update norms."""
    history, _, _ = _recorded(clip_method="global_norm", clip_threshold=THRESHOLD)
    assert history.clip_count > 0  # the spike batch is clipped
    live = live_clipping(history)
    np.testing.assert_array_equal(live.multipliers, history.clip_coefficients[:, 0])
    replay = replay_clipping(history, [GlobalNormClip(THRESHOLD)]).policies[0]
    assert replay.first_change is None
    assert replay.exact_steps == STEPS
    np.testing.assert_allclose(replay.trace.multipliers, live.multipliers, rtol=1e-6)
    np.testing.assert_allclose(replay.update_norms, live.update_norms, rtol=1e-6)
    assert total_movement(replay.update_norms) == pytest.approx(
        math.fsum(live.update_norms.tolist()), rel=1e-6
    )


@pytest.mark.parametrize(
    "policy",
    [
        SpikeDetection(window=4, warmup=2, rtol=1.0),
        ZClip(warmup_steps=3, z_thresh=1.5, max_grad_norm=None),
        AutoClip(percentile=50.0),
        SkipAboveThreshold(limit=SKIP_LIMIT),
        GlobalNormClip(THRESHOLD, rule="optax"),
    ],
    ids=lambda p: p.label,
)
def test_a_policy_run_live_is_what_its_replay_decides(policy: object) -> None:
    """The recorder runs ``policy`` live; replaying that recording under the same policy decides
    exactly as the live run did, and the gradients it changed are the multiplier times the
    gradients measured."""
    history, _, _ = _recorded(policy=policy)
    trace = run_policy(policy, history.grad_norms)  # type: ignore[arg-type]
    live = live_clipping(history)
    np.testing.assert_array_equal(live.actions, trace.actions)
    assert history.policy == trace.label
    replay = replay_clipping(history, [policy]).policies[0]  # type: ignore[list-item]
    assert replay.first_change is None
    acted = trace.actions == 1
    np.testing.assert_allclose(
        history.grad_norms_after[acted], (trace.multipliers * history.grad_norms)[acted], rtol=1e-6
    )
    skipped = trace.actions == 2
    np.testing.assert_array_equal(history.skipped, skipped)
    assert (history.update_norms[skipped] == 0.0).all()


def test_a_skipped_step_leaves_weights_and_adam_state_as_they_were() -> None:
    """A skip drops the gradients: torch's Adam then passes the parameters over, so its moments
    and step counts, like the weights, are what they were before the skipped step (compared with
    a copy of the optimizer stopped before it)."""
    policy = SkipAboveThreshold(limit=SKIP_LIMIT)
    history, model, optimizer = _recorded("adam", policy=policy)
    skipped = np.flatnonzero(history.skipped)
    assert skipped.tolist() == [7]  # only the spike batch passes the limit
    # the same loop stopped before the skip, without a recorder
    twin = _model()
    twin_optimizer = torch.optim.Adam(twin.parameters(), lr=0.05)
    for step, batch in enumerate(_batches()):
        if step == 7:
            continue  # what a skip must amount to
        twin_optimizer.zero_grad()
        _loss(twin, batch).backward()  # type: ignore[no-untyped-call]
        twin_optimizer.step()
    for ours, theirs in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    ours_state = copy.deepcopy(optimizer.state_dict()["state"])
    theirs_state = twin_optimizer.state_dict()["state"]
    for key, state in theirs_state.items():
        for name, value in state.items():
            torch.testing.assert_close(ours_state[key][name], value, rtol=0, atol=0)


def test_replay_without_update_norms_says_unknown() -> None:
    """Without ``optimizer=`` the run's update norms are unknown: the replay's are NaN, except on
    skipped steps, which move nothing."""
    model = _model()
    recorder = GradientRecorder(model)
    for batch in _batches():
        model.zero_grad()
        _loss(model, batch).backward()  # type: ignore[no-untyped-call]
        recorder.record()
    replay = replay_clipping(recorder.history(), [SkipAboveThreshold(SKIP_LIMIT)])
    update = replay.policies[0].update_norms
    assert np.isnan(np.delete(update, 7)).all()
    assert update[7] == 0.0
    assert total_movement(update) == 0.0  # the one step known moved nothing
    assert math.isnan(total_movement(np.delete(update, 7)))


def test_replay_keeps_nan_and_inf_norms_as_data() -> None:
    """A recording whose norms go inf then NaN replays: torch's rule gives multiplier 0 at inf and
    NaN at NaN (as clip_grad_norm_ computes them), a skip limit skips both."""
    torch_inf = torch.clamp(1.0 / (torch.tensor(math.inf) + 1e-6), max=1.0).item()
    torch_nan = torch.clamp(1.0 / (torch.tensor(math.nan) + 1e-6), max=1.0).item()
    history = _history_of([0.5, math.inf, math.nan])
    replay = replay_clipping(history, [GlobalNormClip(1.0), SkipAboveThreshold(10.0)])
    clip, skip = replay.policies
    assert clip.trace.multipliers[1] == torch_inf
    assert math.isnan(torch_nan)
    assert math.isnan(clip.trace.multipliers[2])
    assert skip.trace.actions.tolist() == [0, 2, 2]
    assert clip.first_change == 1


def _history_of(norms: list[float]) -> GradientHistory:
    """A one-tensor recording of these global norms, unclipped, update norms unknown."""
    column = np.array(norms)[:, None]
    steps = len(norms)
    return GradientHistory(
        names=("w",),
        losses=np.full(steps, np.nan),
        loss_given=np.zeros(steps, dtype=bool),
        grad_norms=np.array(norms),
        grad_norms_after=np.array(norms),
        param_grad_norms=column,
        param_norms=np.ones((steps, 1)),
        clip_coefficients=np.ones((steps, 1)),
        clipped=np.zeros(steps, dtype=bool),
        clip_method=None,
        clip_threshold=None,
    )


@pytest.mark.parametrize(
    ("history", "policies", "named"),
    [
        ("not a history", [GlobalNormClip(1.0)], "history"),
        (None, [], "policies"),
        (None, [object()], "policies"),
        (None, [GlobalNormClip(1.0)] * 17, "policies"),
    ],
)
def test_replay_refuses_bad_arguments(history: object, policies: list[object], named: str) -> None:
    given = _history_of([1.0]) if history is None else history
    with pytest.raises(ValueError, match=f"^{named} must be"):
        replay_clipping(given, policies)  # type: ignore[arg-type]


def test_recorder_refuses_a_policy_with_a_clip_method_or_a_non_policy() -> None:
    model = _model()
    with pytest.raises(ValueError, match="clip_method or policy, not both"):
        GradientRecorder(model, clip_method="global_norm", clip_threshold=1.0, policy=ZClip())
    with pytest.raises(ValueError, match=r"^policy must be"):
        GradientRecorder(model, policy="zclip")  # type: ignore[arg-type]
