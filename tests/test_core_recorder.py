"""GradientRecorder on three models it did not build (a TransformerEncoder, an nn.LSTM, a small
CNN) against torch itself: a twin model trained in the same loop with ``clip_grad_norm_``, norms
from ``torch.linalg.vector_norm``, update norms measured directly as ||θ_after − θ_before||. Also
the first non-finite gradient named when a NaN is put into one layer's gradient, and the .npz
recording's exact round trip and its refusal of files that are not recordings."""

from __future__ import annotations

import copy
import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.core.monitor import GradientHistory, GradientRecorder, gradient_norms


class Encoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layer = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = torch.nn.Linear(16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(dim=1))


class Recurrent(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(4, 8, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0][:, -1])


def _cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(4, 4, 3, stride=2, padding=1),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 4 * 4, 1),
    )


# model, input shape, and a tensor to poison with the qualified name and class torch gives
# its owning submodule (read off the model's definition above)
MODELS: dict[str, tuple[Callable[[], torch.nn.Module], tuple[int, ...], str, str, str]] = {
    "transformer": (
        Encoder,
        (4, 5, 16),
        "encoder.layers.1.linear1.weight",
        "encoder.layers.1.linear1",
        "Linear",
    ),
    "lstm": (Recurrent, (4, 6, 4), "lstm.weight_hh_l1", "lstm", "LSTM"),
    "cnn": (_cnn, (4, 3, 8, 8), "2.weight", "2", "Conv2d"),
}


def _build(kind: str, seed: int = 0) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODELS[kind][0]()


def _batches(kind: str, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(5)
    shape = MODELS[kind][1]
    return [
        (torch.randn(*shape, generator=gen) * 2.0, torch.randn(shape[0], 1, generator=gen) * 10)
        for _ in range(count)
    ]


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("threshold", [0.5, 1e6])
def test_norms_and_update_norms_are_torchs(kind: str, threshold: float) -> None:
    """Reference: torch itself. A twin model runs the same loop with ``clip_grad_norm_(…, t)``
    and SGD with momentum. Per step: record() returns what clip_grad_norm_ returns; each tensor's
    gradient and weight norm is ``vector_norm`` of the twin's (before clipping); the clipped
    gradients and the stepped weights are bit-equal; each update norm is ``vector_norm`` of
    θ_after − θ_before measured on the twin. t = 0.5 clips every step (the targets' scale, 10,
    makes gradients far larger), t = 1e6 never does."""
    model = _build(kind)
    twin = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    twin_optimizer = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9)
    recorder = GradientRecorder(
        model, clip_method="global_norm", clip_threshold=threshold, optimizer=optimizer
    )
    params = list(twin.parameters())
    expected: dict[str, list] = {"grad": [], "weight": [], "update": [], "total": []}
    for x, y in _batches(kind, 3):
        for net, opt in ((model, optimizer), (twin, twin_optimizer)):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
        returned = recorder.record()
        expected["grad"].append([float(torch.linalg.vector_norm(p.grad)) for p in params])
        expected["weight"].append([float(torch.linalg.vector_norm(p.detach())) for p in params])
        total = torch.nn.utils.clip_grad_norm_(params, threshold)
        expected["total"].append(float(total))
        assert returned == float(total)
        for mine, theirs in zip(model.parameters(), params, strict=True):
            assert torch.equal(mine.grad, theirs.grad)
        old = [p.detach().clone() for p in params]
        optimizer.step()
        twin_optimizer.step()
        expected["update"].append(
            [
                float(torch.linalg.vector_norm(p.detach() - o))
                for p, o in zip(params, old, strict=True)
            ]
        )
        for mine, theirs in zip(model.parameters(), params, strict=True):
            assert torch.equal(mine, theirs)
    history = recorder.history()
    assert np.array_equal(history.grad_norms, expected["total"])
    assert np.array_equal(history.param_grad_norms, expected["grad"])
    assert np.array_equal(history.param_norms, expected["weight"])
    assert np.array_equal(history.update_norms, expected["update"])
    assert (history.update_norms > 0).all()
    assert history.clipped.tolist() == [threshold == 0.5] * 3
    assert history.shapes == tuple(tuple(p.shape) for p in params)
    assert history.first_nonfinite is None


def test_mixed_dtypes_give_clip_grad_norm_s_total() -> None:
    """Reference: torch's clip_grad_norm_, which groups tensors by dtype and takes the norm of
    the per-tensor norms in its group order; a float64, a float32 and a float16 tensor (in that
    parameter order and interleaved) must give its return bit for bit."""
    gen = torch.Generator().manual_seed(0)
    dtypes = (torch.float32, torch.float64, torch.float16, torch.float32, torch.float64)
    params = [
        torch.nn.Parameter(torch.randn(7, generator=gen).to(dtype) * (3 + i))
        for i, dtype in enumerate(dtypes)
    ]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    for p, q in zip(params, twins, strict=True):
        p.grad = p.detach() * 1.5
        q.grad = q.detach() * 1.5
    recorder = GradientRecorder(params, clip_method="global_norm", clip_threshold=1.0)
    total = torch.nn.utils.clip_grad_norm_(twins, 1.0)
    assert recorder.record() == float(total)
    for p, q in zip(params, twins, strict=True):
        assert torch.equal(p.grad, q.grad)
    assert recorder.history().param_grad_norms[0].tolist() == [
        float(torch.linalg.vector_norm(q.detach() * 1.5)) for q in twins
    ]


@pytest.mark.parametrize("kind", list(MODELS))
def test_first_nonfinite_names_the_poisoned_tensor(kind: str) -> None:
    """Reference: the poisoned tensor itself. A NaN put into one layer's gradient at step 2 and
    an inf into another at step 3: the first non-finite gradient is step 2's tensor, with its
    owning submodule's qualified name and class as torch names them (MODELS lists them). Steps
    0 and 1 are finite."""
    _, _, poisoned, module, module_type = MODELS[kind]
    model = _build(kind)
    recorder = GradientRecorder(model)
    names = dict(model.named_parameters())
    other = next(name for name in names if name != poisoned)
    for step, (x, y) in enumerate(_batches(kind, 4)):
        model.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        with torch.no_grad():
            if step == 2:
                names[poisoned].grad.view(-1)[1] = math.nan
            if step == 3:
                names[other].grad.view(-1)[0] = math.inf
        recorder.record()
        if step < 2:
            assert recorder.first_nonfinite is None
    found = recorder.first_nonfinite
    assert found is not None
    assert (found.step, found.name, found.module, found.module_type) == (
        2,
        poisoned,
        module,
        module_type,
    )
    assert found.names == (poisoned,)
    assert recorder.history().first_nonfinite == found
    assert recorder.history().first_nonfinite_step == 2


def test_update_norms_unknown_without_optimizer_or_step() -> None:
    """Reference: the recorder's contract: no optimizer, no update norms (NaN); with one, a
    record not followed by a step stays NaN, and after close() steps are no longer measured."""
    model = _build("cnn")
    x, y = _batches("cnn", 1)[0]
    plain = GradientRecorder(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    hooked = GradientRecorder(model, optimizer=optimizer)
    for step in range(4):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        plain.record()
        hooked.record()
        if step == 3:
            hooked.close()
        if step != 1:
            optimizer.step()
    assert np.isnan(plain.history().update_norms).all()
    measured = ~np.isnan(hooked.history().update_norms)
    assert measured.all(axis=1).tolist() == [True, False, True, False]
    assert measured.any(axis=1).tolist() == [True, False, True, False]


def _recorded(kind: str = "lstm") -> GradientHistory:
    """A short clipped run with update norms and a NaN gradient at step 2."""
    model = _build(kind)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    recorder = GradientRecorder(
        model, clip_method="global_norm", clip_threshold=1.0, optimizer=optimizer
    )
    for step, (x, y) in enumerate(_batches(kind, 4)):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        if step == 2:
            with torch.no_grad():
                next(model.parameters()).grad.view(-1)[0] = math.nan
        recorder.record(loss if step != 1 else None)
        if step < 2:
            optimizer.step()
    return recorder.history()


def _assert_same(loaded: GradientHistory, history: GradientHistory) -> None:
    for name in (
        "losses",
        "loss_given",
        "grad_norms",
        "grad_norms_after",
        "param_grad_norms",
        "param_norms",
        "clip_coefficients",
        "clipped",
        "update_norms",
    ):
        mine, theirs = getattr(loaded, name), getattr(history, name)
        assert mine.dtype == theirs.dtype
        assert np.array_equal(mine, theirs, equal_nan=mine.dtype.kind == "f"), name
        if mine.dtype.kind == "f":  # NaN where it was NaN, nowhere else
            assert np.array_equal(np.isnan(mine), np.isnan(theirs)), name
    for name in ("names", "shapes", "modules", "module_types", "clip_method", "clip_threshold"):
        assert getattr(loaded, name) == getattr(history, name), name
    assert loaded.first_nonfinite == history.first_nonfinite


def test_save_and_load_round_trip_exactly(tmp_path: Path) -> None:
    """Reference: the recording itself: every array equal (np.array_equal, NaN in the same
    places: a loss not given, update norms after the unstepped NaN step, the NaN norms), every
    name, shape and module, and the first non-finite tensor. The file is written at exactly the
    given name (numpy would add .npz) and numpy opens it without pickle."""
    history = _recorded()
    assert history.first_nonfinite is not None
    assert np.isnan(history.update_norms[2:]).all()
    assert np.isnan(history.losses[1])
    path = tmp_path / "run.recording"
    history.save(path)
    assert path.exists()
    assert not (tmp_path / "run.recording.npz").exists()
    _assert_same(GradientHistory.load(path), history)
    _assert_same(GradientHistory.load(str(path)), history)
    buffer = io.BytesIO()
    history.save(buffer)
    _assert_same(GradientHistory.load(io.BytesIO(buffer.getvalue())), history)
    with np.load(path, allow_pickle=False) as archive:
        metadata = json.loads(str(archive["metadata"]))
        assert metadata["format"] == "gradient-explorer-recording"
        assert metadata["version"] == 1
        assert metadata["names"] == list(history.names)
        assert archive["param_grad_norms"].shape == (4, len(history.names))


def _write(path: Path, **arrays: object) -> Path:
    with open(path, "wb") as file:
        np.savez(file, **arrays)  # type: ignore[arg-type]
    return path


def _fields(history: GradientHistory, **changes: object) -> dict[str, object]:
    buffer = io.BytesIO()
    history.save(buffer)
    with np.load(io.BytesIO(buffer.getvalue())) as archive:
        arrays = {name: archive[name] for name in archive.files}
    metadata = json.loads(str(arrays["metadata"]))
    for key, value in changes.items():
        if key in metadata:
            metadata[key] = value
        elif value is None:
            del arrays[key]
        else:
            arrays[key] = value
    arrays["metadata"] = np.array(json.dumps(metadata))
    return arrays


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("text", "numpy cannot open it"),
        ("npy", "single .npy array"),
        ("missing", "lacks the arrays"),
        ("object", "without pickle"),
        ("format", "does not name the format"),
        ("version", "version 2 is not 1"),
        ("shape", "has shape"),
        ("dtype", "has dtype"),
        ("names", "'modules' has 3 entries"),
        ("nonfinite", "'first_nonfinite'"),
        ("method", "'clip_method'"),
    ],
)
def test_load_refuses_what_is_not_a_recording(tmp_path: Path, case: str, reason: str) -> None:
    """Reference: the format GradientHistory.save documents: anything else, a text file, a
    lone array, a pickled object array, a recording with a missing array, an unknown format or
    version, an array of the wrong shape or dtype, or metadata that contradicts the arrays, is
    refused with a ValueError saying why; nothing is unpickled."""
    history = _recorded()
    path = tmp_path / "bad.npz"
    names = list(history.names)
    if case == "text":
        path.write_text("step,norm\n0,1.0\n")
    elif case == "npy":
        with open(path, "wb") as file:  # np.save would add ".npy" to the name
            np.save(file, np.zeros(3))
    elif case == "object":
        _write(path, **_fields(history, losses=np.array([{"a": 1}] * 4, dtype=object)))
    else:
        changes: dict[str, object] = {
            "missing": {"update_norms": None},
            "format": {"format": "something-else"},
            "version": {"version": 2},
            "shape": {"param_norms": np.zeros((4, 2))},
            "dtype": {"grad_norms": np.zeros(4, dtype=np.float32)},
            "names": {"modules": ["a", "b", "c"]},
            "nonfinite": {"first_nonfinite": {"step": 99, "name": names[0]}},
            "method": {"clip_method": "bogus"},
        }[case]
        _write(path, **_fields(history, **changes))
    with pytest.raises(ValueError, match=rf"^path is not a gradient recording .*{reason}"):
        GradientHistory.load(path)


def test_recorder_refuses_a_non_optimizer() -> None:
    """Reference: the package's rule: bad input raises ValueError naming the argument."""
    with pytest.raises(ValueError, match=r"^optimizer "):
        GradientRecorder(_build("cnn"), optimizer="sgd")  # type: ignore[arg-type]


def test_grouping_is_rebuilt_when_gradients_go_missing_or_a_dtype_changes() -> None:
    """Reference: torch itself. Twin tensors get the same gradients at each step; record() must
    return what ``clip_grad_norm_`` returns on the twins and leave the same clipped gradients,
    each gradient's and weight's norm must be ``vector_norm``'s (0 for a missing gradient), and
    ``gradient_norms`` must give the same before clipping. The recorder keeps its grouping of
    the tensors by device and dtype between steps; these steps change what it depends on: step
    2 has no gradient for tensor 1, step 3 has it again, and before step 4 tensor 2 is converted
    to float16 by replacing its data, as ``module.half()`` converts a parameter. torch then
    groups the float32 tensors 0, 1, 3 before tensor 2, and the global norm, summed in float32,
    depends on that order: with these numbers a grouping kept from step 3 gets its last bit
    wrong. The grouping must be rebuilt at steps 2, 3 and 4 and reused at steps 1 and 5."""
    gen = torch.Generator().manual_seed(3)
    shapes = ((4, 3), (5,), (3, 3), (2,))
    params = [torch.nn.Parameter(torch.randn(shape, generator=gen)) for shape in shapes]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    recorder = GradientRecorder(params, clip_method="global_norm", clip_threshold=1.0)
    expected: dict[str, list] = {"total": [], "grad": [], "weight": []}
    plans = []
    for step in range(6):
        if step == 4:
            for p in (params[2], twins[2]):
                p.grad = None
                p.data = p.data.half()
        for index, (p, q) in enumerate(zip(params, twins, strict=True)):
            grad = None if (step, index) == (2, 1) else torch.randn(p.shape, generator=gen) * 3
            p.grad = None if grad is None else grad.to(p.dtype, copy=True)
            q.grad = None if grad is None else grad.to(q.dtype, copy=True)
        grads = [0.0 if q.grad is None else float(torch.linalg.vector_norm(q.grad)) for q in twins]
        expected["grad"].append(grads)
        expected["weight"].append([float(torch.linalg.vector_norm(q.detach())) for q in twins])
        measured_total, measured_grads = gradient_norms(twins)
        returned = recorder.record()
        total = torch.nn.utils.clip_grad_norm_(twins, 1.0)
        expected["total"].append(float(total))
        assert returned == measured_total == float(total)
        assert measured_grads.tolist() == grads
        for p, q in zip(params, twins, strict=True):
            assert (p.grad is None) == (q.grad is None)
            if p.grad is not None:
                assert p.grad.dtype == p.dtype
                assert torch.equal(p.grad, q.grad)
                with torch.no_grad():  # a plain SGD step, so that the weights' norms change
                    p.sub_(0.1 * p.grad)
                    q.sub_(0.1 * q.grad)
        plans.append(recorder._plan)
    history = recorder.history()
    assert history.clipped.all()  # gradients of norm about 3 * sqrt(30) against a threshold of 1
    assert np.array_equal(history.grad_norms, expected["total"])
    assert np.array_equal(history.param_grad_norms, expected["grad"])
    assert np.array_equal(history.param_norms, expected["weight"])
    assert history.param_grad_norms[2, 1] == 0.0
    reused = [plans[step] is plans[step - 1] for step in range(1, 6)]
    assert reused == [True, False, False, False, True]


def test_from_norms_totals_the_tensors_as_torch_does() -> None:
    """Norms logged elsewhere become a history whose global norm is clip_grad_norm_'s total of
    tensors with those norms (torch itself, float64 gradients), unclipped, with what was not given
    unknown; it saves and loads like a recording."""
    gradients = [
        torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(s))
        for s in range(4)
    ]
    gradients[2] *= 1e3
    norms = [[float(torch.linalg.vector_norm(g)) for g in gradients]]
    parameters = [torch.nn.Parameter(torch.zeros_like(g)) for g in gradients]
    for parameter, gradient in zip(parameters, gradients, strict=True):
        parameter.grad = gradient.clone()
    total = float(torch.nn.utils.clip_grad_norm_(parameters, max_norm=1e9))
    history = GradientHistory.from_norms(norms, ["a.weight", "a.bias", "b.weight", "b.bias"])
    assert history.grad_norms[0] == pytest.approx(total, rel=1e-15)
    assert history.grad_norms_after[0] == history.grad_norms[0]
    assert history.clip_count == 0
    assert history.clip_method is None
    assert np.isnan(history.losses).all()
    assert not history.loss_given.any()
    assert np.isnan(history.update_norms).all()
    assert np.isnan(history.param_norms).all()
    buffer = io.BytesIO()
    history.save(buffer)
    buffer.seek(0)
    _assert_same(GradientHistory.load(buffer), history)


def test_from_norms_of_a_recording_gives_its_global_norms() -> None:
    """A recorder's own per-tensor norms, handed to from_norms, give back the global norms the
    recorder measured with torch (to float32's rounding: the recorder sums in float32)."""
    recorded = _recorded("cnn")
    again = GradientHistory.from_norms(recorded.param_grad_norms, recorded.names)
    finite = np.isfinite(recorded.grad_norms)
    assert np.allclose(again.grad_norms[finite], recorded.grad_norms[finite], rtol=1e-6)
    assert np.array_equal(np.isfinite(again.grad_norms), finite)  # the NaN step stays NaN


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"param_grad_norms": np.ones(3)}, "param_grad_norms"),
        ({"param_grad_norms": np.ones((2, 3))}, "param_grad_norms"),
        ({"losses": np.ones(3)}, "losses"),
        ({"update_norms": np.ones((1, 2))}, "update_norms"),
        ({"modules": ["a"]}, "modules"),
    ],
)
def test_from_norms_refuses_shapes_that_do_not_fit(arguments: dict[str, object], name: str) -> None:
    given: dict[str, object] = {"param_grad_norms": np.ones((2, 2)), **arguments}
    with pytest.raises(ValueError, match=name):
        GradientHistory.from_norms(names=["a", "b"], **given)  # type: ignore[arg-type]
