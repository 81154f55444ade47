"""Shapes, trainable parameters, MACs and depth of a graph, from the description alone."""

from __future__ import annotations

import math

from gpudoctor.refmodels.graph import (
    INPUT,
    Act,
    AdaptiveAvgPool,
    Add,
    AvgPool,
    BatchNorm,
    Concat,
    Conv,
    Dropout,
    Flatten,
    Graph,
    Linear,
    MaxPool,
    Node,
    Pair,
)

Shape = tuple[int, ...]
"""Per-sample shape: (C, H, W) for a feature map, (F,) for a vector."""


def pool_out(size: int, kernel: int, stride: int, pad: int, ceil_mode: bool) -> int:
    """Output length of a pooling window along one axis, with torch's rounding rules."""
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    # torch drops a last window that would start inside the right padding
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _spatial(shape: Shape, node: Node) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ValueError(f"node {node.name!r} needs a feature map, got shape {shape}")
    return shape[0], shape[1], shape[2]


def _window(
    shape: Shape, node: Node, kernel: Pair, stride: Pair, pad: Pair, ceil: bool
) -> tuple[int, int]:
    _, h, w = _spatial(shape, node)
    oh = pool_out(h, kernel[0], stride[0], pad[0], ceil)
    ow = pool_out(w, kernel[1], stride[1], pad[1], ceil)
    if oh < 1 or ow < 1:
        raise ValueError(f"node {node.name!r}: input {h}x{w} is too small")
    return oh, ow


def node_shape(node: Node, inputs: list[Shape]) -> Shape:
    """The output shape of ``node`` given the shapes of its inputs."""
    op = node.op
    first = inputs[0]
    if isinstance(op, Conv):
        oh, ow = _window(first, node, op.kernel, op.stride, op.padding, False)
        return (op.out_channels, oh, ow)
    if isinstance(op, MaxPool):
        oh, ow = _window(first, node, op.kernel, op.stride, op.padding, op.ceil_mode)
        return (first[0], oh, ow)
    if isinstance(op, AvgPool):
        oh, ow = _window(first, node, op.kernel, op.stride, op.padding, False)
        return (first[0], oh, ow)
    if isinstance(op, AdaptiveAvgPool):
        return (_spatial(first, node)[0], *op.output)
    if isinstance(op, Flatten):
        return (math.prod(first),)
    if isinstance(op, Linear):
        if len(first) != 1:
            raise ValueError(f"node {node.name!r}: a linear layer needs a vector, got {first}")
        return (op.out_features,)
    if isinstance(op, Concat):
        if any(s[1:] != first[1:] for s in inputs):
            raise ValueError(f"node {node.name!r}: cannot concatenate shapes {inputs}")
        return (sum(s[0] for s in inputs), *first[1:])
    if isinstance(op, Add):
        if any(s != first for s in inputs):
            raise ValueError(f"node {node.name!r}: cannot add shapes {inputs}")
        return first
    if isinstance(op, BatchNorm | Act | Dropout):
        return first
    raise TypeError(f"unknown op {op!r}")


def infer_shapes(graph: Graph, input_shape: tuple[int, int, int]) -> dict[str, Shape]:
    """Every node's per-sample output shape; ``input_shape`` is (H, W, C)."""
    h, w, c = input_shape
    shapes: dict[str, Shape] = {INPUT: (c, h, w)}
    for node in graph.nodes:
        shapes[node.name] = node_shape(node, [shapes[i] for i in node.inputs])
    return shapes


def node_params(node: Node, in_shape: Shape) -> int:
    """Trainable parameters of one node (batch-norm statistics are not trainable)."""
    op = node.op
    if isinstance(op, Conv):
        weights = op.out_channels * in_shape[0] * op.kernel[0] * op.kernel[1]
        return weights + (op.out_channels if op.bias else 0)
    if isinstance(op, Linear):
        return op.out_features * in_shape[0] + (op.out_features if op.bias else 0)
    if isinstance(op, BatchNorm):
        return 2 * in_shape[0]
    return 0


def node_macs(node: Node, in_shape: Shape, out_shape: Shape) -> int:
    """Multiply-accumulates of one node, as torchvision counts them: convolutions and matmuls."""
    op = node.op
    if isinstance(op, Conv):
        return math.prod(out_shape) * in_shape[0] * op.kernel[0] * op.kernel[1]
    if isinstance(op, Linear):
        return op.out_features * in_shape[0]
    return 0


def compute_params(graph: Graph, input_shape: tuple[int, int, int]) -> int:
    """Trainable parameters of the whole graph."""
    shapes = infer_shapes(graph, input_shape)
    return sum(node_params(n, shapes[n.inputs[0]]) for n in graph.nodes)


def compute_macs(graph: Graph, input_shape: tuple[int, int, int]) -> int:
    """Forward multiply-accumulates for one image."""
    shapes = infer_shapes(graph, input_shape)
    return sum(node_macs(n, shapes[n.inputs[0]], shapes[n.name]) for n in graph.nodes)


def compute_depth(graph: Graph) -> int:
    """Weighted layers (convolutions and linear layers) on the longest input-to-output path."""
    depth: dict[str, int] = {INPUT: 0}
    for node in graph.nodes:
        weighted = isinstance(node.op, Conv | Linear)
        depth[node.name] = max(depth[i] for i in node.inputs) + int(weighted)
    return depth[graph.output]
