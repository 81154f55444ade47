"""Build a reference model's description as a Keras 3 functional model (NHWC, channels_last)."""

from __future__ import annotations

import functools
from typing import Any

from packaging.version import InvalidVersion, Version

from gpudoctor.errors import BadInputError
from gpudoctor.refmodels import ModelSpec, resolve
from gpudoctor.refmodels.counting import Shape, infer_shapes, pool_out
from gpudoctor.refmodels.graph import (
    Act,
    AdaptiveAvgPool,
    Add,
    AvgPool,
    BatchNorm,
    Concat,
    Conv,
    Dropout,
    Flatten,
    Linear,
    MaxPool,
    Node,
    Pair,
)

CL = "channels_last"
Pads = tuple[tuple[int, int], tuple[int, int]]
KERAS_MAJOR = 3
"""The builder uses Keras 3 APIs (``keras.ops``): TensorFlow >= 2.16 ships it as ``keras``."""


def keras_major(version: str) -> int | None:
    """The major version of a Keras version string, or None when it cannot be read."""
    try:
        return Version(version).major
    except InvalidVersion:
        head = version.split(".", 1)[0]
        return int(head) if head.isdigit() else None


def require_keras_3(version: str) -> None:
    """Raise a one-line RuntimeError when ``version`` is not Keras 3 or later."""
    major = keras_major(version)
    if major is None or major < KERAS_MAJOR:
        raise RuntimeError(
            f"the Keras reference models need Keras {KERAS_MAJOR} (TensorFlow >= 2.16); "
            f"this is Keras {version}"
        )


def torch_pads(shape: Shape, kernel: Pair, stride: Pair, padding: Pair, ceil: bool) -> Pads:
    """The (before, after) padding per axis that reproduces torch's windows with 'valid' ones.

    torch pads both sides but never reads past its last window; ceil_mode adds a partial
    window at the end, which is extra padding after.
    """
    pads = []
    for size, k, s, p in zip(shape[1:], kernel, stride, padding, strict=True):
        out = pool_out(size, k, s, p, ceil)
        pads.append((p, max(0, (out - 1) * s + k - size - p)))
    return pads[0], pads[1]


def same_pads(shape: Shape, kernel: Pair, stride: Pair) -> Pads:
    """The padding TensorFlow's 'same' uses: ceil(size/stride) outputs, the odd cell after."""
    pads = []
    for size, k, s in zip(shape[1:], kernel, stride, strict=True):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads[0], pads[1]


def _padding_mode(shape: Shape, kernel: Pair, stride: Pair, pads: Pads) -> str | None:
    """'valid' or 'same' when a Keras padding mode gives these pads, else None."""
    if pads == ((0, 0), (0, 0)):
        return "valid"
    if pads == same_pads(shape, kernel, stride):
        return "same"
    return None


@functools.cache
def _neg_inf_padding() -> type[Any]:
    """A padding layer that fills with -inf, so padded cells never win a max pool (as in torch)."""
    import keras

    class NegInfPadding2D(keras.layers.Layer):  # type: ignore[misc]  # keras is untyped here
        def __init__(self, padding: Pads, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.padding = padding

        def call(self, x: Any) -> Any:
            (top, bottom), (left, right) = self.padding
            widths = [[0, 0], [top, bottom], [left, right], [0, 0]]
            return keras.ops.pad(x, widths, constant_values=float("-inf"))

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "padding": self.padding}

    return NegInfPadding2D


def _windowed(node: Node, x: Any, shape: Shape) -> Any:
    """Convolution or pooling, with an explicit padding layer where no Keras mode matches."""
    import keras

    op = node.op
    if not isinstance(op, Conv | MaxPool | AvgPool):
        raise TypeError(f"node {node.name!r} has no window")
    ceil = isinstance(op, MaxPool) and op.ceil_mode
    pads = torch_pads(shape, op.kernel, op.stride, op.padding, ceil)
    mode = _padding_mode(shape, op.kernel, op.stride, pads)
    if isinstance(op, AvgPool) and mode == "same" and op.count_include_pad:
        mode = None  # TF's 'same' average leaves the padding out of the divisor
    if isinstance(op, AvgPool) and mode is None and not op.count_include_pad:
        raise ValueError(f"node {node.name!r}: this padding cannot be reproduced in Keras")
    if mode is None:
        if isinstance(op, MaxPool):
            x = _neg_inf_padding()(pads, name=f"{node.name}_pad")(x)
        else:
            x = keras.layers.ZeroPadding2D(pads, data_format=CL, name=f"{node.name}_pad")(x)
        mode = "valid"
    if isinstance(op, Conv):
        layer = keras.layers.Conv2D(
            op.out_channels,
            op.kernel,
            strides=op.stride,
            padding=mode,
            use_bias=op.bias,
            data_format=CL,
            name=node.name,
        )
    else:
        pool_class = keras.layers.MaxPooling2D
        if isinstance(op, AvgPool):
            pool_class = keras.layers.AveragePooling2D
        layer = pool_class(
            op.kernel, strides=op.stride, padding=mode, data_format=CL, name=node.name
        )
    return layer(x)


def _adaptive(node: Node, op: AdaptiveAvgPool, x: Any, shape: Shape) -> Any:
    import keras

    _, h, w = shape
    oh, ow = op.output
    if (oh, ow) == (1, 1):
        return keras.layers.GlobalAveragePooling2D(CL, keepdims=True, name=node.name)(x)
    if (h, w) == (oh, ow):
        return keras.layers.Identity(name=node.name)(x)
    if h % oh or w % ow:
        raise ValueError(f"node {node.name!r}: cannot pool {h}x{w} evenly to {oh}x{ow}")
    size = (h // oh, w // ow)
    return keras.layers.AveragePooling2D(size, size, data_format=CL, name=node.name)(x)


def _layer(node: Node, args: list[Any], shape: Shape) -> Any:
    import keras

    op = node.op
    name = node.name
    if isinstance(op, Conv | MaxPool | AvgPool):
        return _windowed(node, args[0], shape)
    if isinstance(op, AdaptiveAvgPool):
        return _adaptive(node, op, args[0], shape)
    if isinstance(op, BatchNorm):
        layer = keras.layers.BatchNormalization(
            axis=-1, momentum=1.0 - op.momentum, epsilon=op.eps, name=name
        )
    elif isinstance(op, Act):
        layer = keras.layers.Activation(op.fn, name=name)
    elif isinstance(op, Flatten):
        layer = keras.layers.Flatten(data_format=CL, name=name)
    elif isinstance(op, Dropout):
        layer = keras.layers.Dropout(op.rate, name=name)
    elif isinstance(op, Linear):
        layer = keras.layers.Dense(op.out_features, use_bias=op.bias, name=name)
    elif isinstance(op, Concat):
        return keras.layers.Concatenate(axis=-1, name=name)(args)
    elif isinstance(op, Add):
        return keras.layers.Add(name=name)(args)
    else:
        raise TypeError(f"unknown op {op!r}")
    return layer(args[0])


def build_keras(
    spec_or_name: ModelSpec | str, *, aux_logits: bool = False, seed: int | None = None
) -> Any:
    """The model as a Keras functional model, float32 under the default dtype policy.

    Input (N, H, W, C); output the logits (N, classes), or ``[logits, aux_logits]`` with
    ``aux_logits=True`` (inception_v3 only). Layers carry the description's node names, which
    is how weights.py matches them to the torch model. ``seed`` seeds Keras globally.
    """
    import keras

    require_keras_3(str(getattr(keras, "__version__", "unknown")))
    spec = resolve(spec_or_name)
    if aux_logits and not spec.has_aux:
        raise BadInputError(f"model {spec.name!r} has no auxiliary classifier")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    graph = spec.graph_for(aux_logits=aux_logits)
    shapes = infer_shapes(graph, spec.input_shape)
    inputs = keras.Input(shape=spec.input_shape, name="input")
    values: dict[str, Any] = {"input": inputs}
    for node in graph.nodes:
        args = [values[name] for name in node.inputs]
        values[node.name] = _layer(node, args, shapes[node.inputs[0]])
    outputs = [values[name] for name in graph.outputs]
    return keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=spec.name)


def make_keras_input(spec_or_name: ModelSpec | str, batch: int = 1, seed: int = 0) -> Any:
    """A float32 (N, H, W, C) numpy batch: the same values as make_torch_input, transposed."""
    from gpudoctor.refmodels.inputs import make_input

    return make_input(resolve(spec_or_name), batch, seed, layout="nhwc")
