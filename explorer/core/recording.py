"""A gradient recording on disk: a portable numpy .npz file that any numpy can read, no pickle.

``GradientHistory.save(path)`` (or ``GradientRecorder.save``) writes it and
``GradientHistory.load(path)`` reads it back exactly (the same arrays, NaN where they were NaN).

The file is an uncompressed .npz archive (``numpy.load(path, allow_pickle=False)`` opens it) of
these arrays, with T steps and K tensors:

| array | dtype | shape | what it holds |
| --- | --- | --- | --- |
| ``metadata`` | str | () | the JSON text described below |
| ``losses`` | float64 | (T,) | the loss at each step, NaN where none was given |
| ``loss_given`` | bool | (T,) | whether a loss was given |
| ``grad_norms`` | float64 | (T,) | the global L2 gradient norm before clipping |
| ``grad_norms_after`` | float64 | (T,) | the same after clipping |
| ``param_grad_norms`` | float64 | (T, K) | each tensor's gradient norm before clipping |
| ``param_norms`` | float64 | (T, K) | each tensor's weight norm |
| ``clip_coefficients`` | float64 | (T, K) | the clip multiplier (NaN for value and AGC clipping) |
| ``clipped`` | bool | (T,) | whether clipping changed the gradient |
| ``skipped`` | bool | (T,) | whether a live policy skipped the update |
| ``update_norms`` | float64 | (T, K) | each tensor's update norm, NaN where not measured |

``metadata`` is a JSON object: ``format`` ("gradient-explorer-recording"), ``version`` (1),
``names``, ``shapes`` (lists of ints), ``modules`` and ``module_types`` (K strings each),
``clip_method`` and ``clip_threshold`` (null when not clipping), ``policy`` (the label of a
policy run live, or null) and ``first_nonfinite`` (null or
an object with ``step``, ``name``, ``module``, ``module_type`` and ``names``).
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from explorer.core._types import BoolArray, FloatArray
from explorer.core.clip import METHODS

if TYPE_CHECKING:
    from explorer.core.monitor import GradientHistory, NonfiniteGradient

FORMAT = "gradient-explorer-recording"
VERSION = 1
STEP_ARRAYS = ("losses", "loss_given", "grad_norms", "grad_norms_after", "clipped", "skipped")
TENSOR_ARRAYS = ("param_grad_norms", "param_norms", "clip_coefficients", "update_norms")
BOOL_ARRAYS = ("loss_given", "clipped", "skipped")

File = str | os.PathLike[str] | IO[bytes]


def save_history(history: GradientHistory, path: File) -> None:
    """Write ``history`` to ``path`` (exactly that name, or a binary file) as a recording."""
    found = history.first_nonfinite
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "names": list(history.names),
        "shapes": [list(shape) for shape in history.shapes],
        "modules": list(history.modules),
        "module_types": list(history.module_types),
        "clip_method": history.clip_method,
        "clip_threshold": history.clip_threshold,
        "policy": history.policy,
        "first_nonfinite": None
        if found is None
        else {
            "step": found.step,
            "name": found.name,
            "module": found.module,
            "module_type": found.module_type,
            "names": list(found.names),
        },
    }
    # typed Any: numpy's stubs read ** keyword arrays as its bool options
    arrays: dict[str, Any] = {
        name: np.asarray(getattr(history, name)) for name in STEP_ARRAYS + TENSOR_ARRAYS
    }
    arrays["metadata"] = np.array(json.dumps(metadata, allow_nan=False))
    if isinstance(path, (str, os.PathLike)):  # np.savez would add ".npz" to a name without it
        with open(path, "wb") as file:
            np.savez(file, allow_pickle=False, **arrays)
    else:
        np.savez(path, allow_pickle=False, **arrays)


class _Refused(ValueError):
    """What load_history raises: the file is not a recording it can read."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"path is not a gradient recording ({FORMAT} .npz): {reason}")


def load_history(path: File) -> GradientHistory:
    """Read a recording that ``save_history`` wrote; anything else raises ValueError."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise _Refused(f"numpy cannot open it as an .npz archive ({error})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _Refused("it is a single .npy array, not an .npz archive")
    with archive:
        missing = {"metadata", *STEP_ARRAYS, *TENSOR_ARRAYS} - set(archive.files)
        if missing:
            raise _Refused(f"it lacks the arrays {sorted(missing)}")
        try:
            arrays = {name: archive[name] for name in ("metadata", *STEP_ARRAYS, *TENSOR_ARRAYS)}
        except ValueError as error:  # object arrays need pickle, which is refused
            raise _Refused(f"an array cannot be read without pickle ({error})") from None
    return _history(_metadata(arrays.pop("metadata")), arrays)


def _metadata(text: npt.NDArray[np.generic]) -> dict[str, object]:
    """The JSON metadata, checked for its format name and version."""
    if text.shape != () or text.dtype.kind != "U":
        raise _Refused("'metadata' is not one string")
    try:
        metadata = json.loads(str(text))
    except json.JSONDecodeError as error:
        raise _Refused(f"'metadata' is not JSON ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise _Refused(f"'metadata' does not name the format {FORMAT!r}")
    if metadata.get("version") != VERSION:
        raise _Refused(f"version {metadata.get('version')!r} is not {VERSION}, the one read here")
    return metadata


def _strings(metadata: dict[str, object], key: str, count: int | None) -> tuple[str, ...]:
    """A list of strings from the metadata: ``count`` of them, or none (unknown), or any number
    when ``count`` is None."""
    value = metadata.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Refused(f"metadata {key!r} is not a list of strings")
    if count is not None and len(value) not in (0, count):
        raise _Refused(f"metadata {key!r} has {len(value)} entries for {count} tensors")
    return tuple(value)


def _shapes(metadata: dict[str, object], count: int) -> tuple[tuple[int, ...], ...]:
    value = metadata.get("shapes")
    if not isinstance(value, list) or len(value) not in (0, count):
        raise _Refused(f"metadata 'shapes' is not a list of {count} shapes")
    for shape in value:
        if not isinstance(shape, list) or not all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in shape
        ):
            raise _Refused(f"metadata 'shapes' holds {shape!r}, not a list of sizes")
    return tuple(tuple(shape) for shape in value)


def _first_nonfinite(
    metadata: dict[str, object], names: tuple[str, ...], steps: int
) -> NonfiniteGradient | None:
    """The first non-finite tensor, checked to be a recorded step and a recorded tensor."""
    from explorer.core.monitor import NonfiniteGradient

    found = metadata.get("first_nonfinite")
    if found is None:
        return None
    refused = _Refused("metadata 'first_nonfinite' is not null or a recorded step and tensor")
    if not isinstance(found, dict):
        raise refused
    step, name = found.get("step"), found.get("name")
    module, module_type = found.get("module"), found.get("module_type")
    if not (isinstance(step, int) and not isinstance(step, bool) and 0 <= step < steps):
        raise refused
    if name not in names or not isinstance(module, str) or not isinstance(module_type, str):
        raise refused
    listed = _strings(found, "names", None)
    if not set(listed) <= set(names):
        raise refused
    return NonfiniteGradient(step, str(name), module, module_type, listed)


def _clipping(metadata: dict[str, object]) -> tuple[str | None, float | None]:
    method, threshold = metadata.get("clip_method"), metadata.get("clip_threshold")
    if method is None and threshold is None:
        return None, None
    if method not in METHODS or isinstance(threshold, bool):
        raise _Refused(f"metadata 'clip_method' {method!r} is not one of {list(METHODS)}")
    if not isinstance(threshold, (int, float)) or not threshold > 0:
        raise _Refused(f"metadata 'clip_threshold' {threshold!r} is not a number > 0")
    return str(method), float(threshold)


def _policy(metadata: dict[str, object]) -> str | None:
    label = metadata.get("policy")
    if label is not None and not isinstance(label, str):
        raise _Refused(f"metadata 'policy' {label!r} is not null or a policy's label")
    return label


def _arrays(
    arrays: dict[str, npt.NDArray[np.generic]], count: int
) -> dict[str, npt.NDArray[np.generic]]:
    """The arrays, checked for dtype and for shapes (steps,) and (steps, tensors)."""
    steps = arrays["grad_norms"].shape[0] if arrays["grad_norms"].ndim == 1 else -1
    for name, array in arrays.items():
        kind = "b" if name in BOOL_ARRAYS else "f"
        if array.dtype.kind != kind or (kind == "f" and array.dtype != np.float64):
            want = "bool" if kind == "b" else "float64"
            raise _Refused(f"array {name!r} has dtype {array.dtype}, not {want}")
        shape = (steps,) if name in STEP_ARRAYS else (steps, count)
        if steps < 0 or array.shape != shape:
            raise _Refused(f"array {name!r} has shape {array.shape}, not {shape}")
    return arrays


def _history(
    metadata: dict[str, object], arrays: dict[str, npt.NDArray[np.generic]]
) -> GradientHistory:
    from explorer.core.monitor import GradientHistory

    names = _strings(metadata, "names", None)
    count = len(names)
    clip_method, clip_threshold = _clipping(metadata)
    checked = _arrays(arrays, count)
    floats = {name: cast(FloatArray, array) for name, array in checked.items()}  # checked above
    bools = {name: cast(BoolArray, checked[name]) for name in BOOL_ARRAYS}
    return GradientHistory(
        names=names,
        losses=floats["losses"],
        loss_given=bools["loss_given"],
        grad_norms=floats["grad_norms"],
        grad_norms_after=floats["grad_norms_after"],
        param_grad_norms=floats["param_grad_norms"],
        param_norms=floats["param_norms"],
        clip_coefficients=floats["clip_coefficients"],
        clipped=bools["clipped"],
        skipped=bools["skipped"],
        policy=_policy(metadata),
        clip_method=clip_method,
        clip_threshold=clip_threshold,
        update_norms=floats["update_norms"],
        shapes=_shapes(metadata, count),
        modules=_strings(metadata, "modules", count),
        module_types=_strings(metadata, "module_types", count),
        first_nonfinite=_first_nonfinite(metadata, names, len(floats["grad_norms"])),
    )
