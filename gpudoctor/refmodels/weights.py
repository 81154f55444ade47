"""Carry a torch model's weights into its Keras twin, through a plain numpy dict (or an .npz)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gpudoctor.errors import GpudoctorError

_COMPILED_PREFIX = "_orig_mod."  # what torch.compile puts in front of every state key


class WeightTransferError(GpudoctorError):
    """The torch state and the Keras model do not describe the same layers."""


def torch_state_to_numpy(torch_model: Any) -> dict[str, Any]:
    """The model's parameters and batch-norm statistics as float32 numpy arrays, by state key.

    Keys are ``<node>.weight``, ``<node>.bias``, ``<node>.running_mean``, ``<node>.running_var``
    (the description's node names); ``num_batches_tracked`` is left out.
    """
    state = {}
    for key, tensor in torch_model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        state[key.removeprefix(_COMPILED_PREFIX)] = tensor.detach().to("cpu").float().numpy().copy()
    return state


def save_state(state: dict[str, Any], path: Path) -> None:
    """Write the numpy state to an uncompressed .npz (for a child process to load)."""
    import numpy as np

    with path.open("wb") as fh:
        np.savez(fh, **state)


def load_state(path: Path) -> dict[str, Any]:
    """Read a state written by save_state."""
    import numpy as np

    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _take(state: dict[str, Any], used: set[str], key: str) -> Any:
    if key not in state:
        raise WeightTransferError(f"the torch state has no {key!r}")
    used.add(key)
    return state[key]


def _dense_kernel(weight: Any, flattened: tuple[int, int, int] | None) -> Any:
    """torch (out, in) -> Keras (in, out); inputs flattened as (C, H, W) reordered to (H, W, C)."""
    if flattened is not None:
        h, w, c = flattened
        if weight.shape[1] != h * w * c:
            raise WeightTransferError(
                f"dense input {weight.shape[1]} does not match the flattened {h}x{w}x{c} map"
            )
        weight = weight.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)
    return weight.T


def load_numpy_into_keras(state: dict[str, Any], keras_model: Any) -> None:
    """Set every Keras weight from the torch state (layers matched by name); all keys must be used.

    Convolution kernels go OIHW -> HWIO, dense kernels are transposed, batch norm takes gamma,
    beta, moving mean and moving variance, and the dense layer after a Flatten of a map larger
    than 1x1 gets its input rows permuted from torch's channel-major order to Keras's.
    """
    import keras

    used: set[str] = set()
    # which tensors are flattened maps, by id, followed through shape-keeping layers; the
    # layers come in topological order, but branches (an aux head) interleave
    flattened: dict[int, tuple[int, int, int]] = {}
    passthrough = (keras.layers.Dropout, keras.layers.Activation, keras.layers.Identity)
    for layer in keras_model.layers:
        name = layer.name
        if isinstance(layer, keras.layers.Flatten):
            shape = tuple(layer.input.shape[1:])
            if len(shape) == 3:
                flattened[id(layer.output)] = (shape[0], shape[1], shape[2])
            continue
        if isinstance(layer, passthrough) and id(layer.input) in flattened:
            flattened[id(layer.output)] = flattened[id(layer.input)]
        if not layer.weights:
            continue
        if isinstance(layer, keras.layers.Conv2D):
            values = [_take(state, used, f"{name}.weight").transpose(2, 3, 1, 0)]
        elif isinstance(layer, keras.layers.Dense):
            weight = _take(state, used, f"{name}.weight")
            values = [_dense_kernel(weight, flattened.get(id(layer.input)))]
        elif isinstance(layer, keras.layers.BatchNormalization):
            keys = ("weight", "bias", "running_mean", "running_var")
            values = [_take(state, used, f"{name}.{key}") for key in keys]
        else:
            raise WeightTransferError(f"no rule to load Keras layer {name!r} ({type(layer)})")
        if getattr(layer, "use_bias", False):
            values.append(_take(state, used, f"{name}.bias"))
        try:
            layer.set_weights(values)
        except ValueError as exc:
            raise WeightTransferError(f"layer {name!r}: {exc}") from exc
    unused = sorted(set(state) - used)
    if unused:
        raise WeightTransferError(f"torch weights with no Keras layer: {', '.join(unused[:5])}")


def copy_torch_to_keras(torch_model: Any, keras_model: Any) -> None:
    """Give the Keras model the torch model's weights, in one process."""
    load_numpy_into_keras(torch_state_to_numpy(torch_model), keras_model)
