"""The layer-graph vocabulary every reference model is described in, framework-free."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

Pair = tuple[int, int]
"""(height, width) of a kernel, stride or padding, as torch orders them."""


def pair(value: int | Pair) -> Pair:
    """``3`` -> ``(3, 3)``; a pair stays as it is."""
    return (value, value) if isinstance(value, int) else value


@dataclass(frozen=True)
class Conv:
    """2-D convolution; ``padding`` is symmetric zero padding, torch style."""

    out_channels: int
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    bias: bool = True


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation over channels; ``eps`` differs between the model families."""

    eps: float
    momentum: float = 0.1
    """torch's convention (weight of the new batch); Keras's momentum is ``1 - momentum``."""


@dataclass(frozen=True)
class Act:
    """An elementwise nonlinearity."""

    fn: Literal["relu", "tanh"] = "relu"


@dataclass(frozen=True)
class MaxPool:
    """Max pooling; padded cells never win (torch pads with -inf)."""

    kernel: Pair
    stride: Pair
    padding: Pair = (0, 0)
    ceil_mode: bool = False


@dataclass(frozen=True)
class AvgPool:
    """Average pooling; torch's default counts the zero padding in the divisor."""

    kernel: Pair
    stride: Pair
    padding: Pair = (0, 0)
    count_include_pad: bool = True


@dataclass(frozen=True)
class AdaptiveAvgPool:
    """Average pooling to a fixed output size; ``(1, 1)`` is global average pooling."""

    output: Pair


@dataclass(frozen=True)
class Flatten:
    """Feature map to vector, channel-major in torch (C, H, W), channel-minor in Keras."""


@dataclass(frozen=True)
class Dropout:
    """Dropout; a no-op in eval mode."""

    rate: float


@dataclass(frozen=True)
class Linear:
    """Fully connected layer."""

    out_features: int
    bias: bool = True


@dataclass(frozen=True)
class Concat:
    """Concatenate the inputs along the channel axis, in the order given."""


@dataclass(frozen=True)
class Add:
    """Elementwise sum of the inputs (a residual connection)."""


Op = (
    Conv
    | BatchNorm
    | Act
    | MaxPool
    | AvgPool
    | AdaptiveAvgPool
    | Flatten
    | Dropout
    | Linear
    | Concat
    | Add
)

INPUT = "input"
"""The name every graph's image input goes by."""


@dataclass(frozen=True)
class Node:
    """One layer: its unique name (shared by the torch module and the Keras layer), op, inputs."""

    name: str
    op: Op
    inputs: tuple[str, ...]
    aux: bool = False
    """Part of an auxiliary classifier, built only on request."""


@dataclass(frozen=True)
class Graph:
    """A model as nodes in topological order, from ``INPUT`` to ``output``."""

    nodes: tuple[Node, ...]
    output: str
    aux_output: str | None = None

    def select(self, *, aux_logits: bool) -> Graph:
        """The graph with its auxiliary classifier kept or dropped."""
        if aux_logits:
            if self.aux_output is None:
                raise ValueError("this graph has no auxiliary classifier")
            return self
        return replace(self, nodes=tuple(n for n in self.nodes if not n.aux), aux_output=None)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The main output, then the auxiliary one when the graph has it."""
        return (self.output,) if self.aux_output is None else (self.output, self.aux_output)


@dataclass
class GraphBuilder:
    """Writes a graph node by node; every method returns the new node's name."""

    nodes: list[Node] = field(default_factory=list)
    _aux: bool = False

    def add(self, name: str, op: Op, *inputs: str) -> str:
        known = {INPUT} | {n.name for n in self.nodes}
        if name in known:
            raise ValueError(f"duplicate node name {name!r}")
        missing = [i for i in inputs if i not in known]
        if missing or not inputs:
            raise ValueError(f"node {name!r}: unknown inputs {missing or inputs}")
        self.nodes.append(Node(name, op, tuple(inputs), self._aux))
        return name

    @contextlib.contextmanager
    def auxiliary(self) -> Iterator[None]:
        """Nodes added inside the block belong to an auxiliary classifier."""
        self._aux = True
        try:
            yield
        finally:
            self._aux = False

    def conv(
        self,
        name: str,
        x: str,
        out: int,
        kernel: int | Pair,
        *,
        stride: int | Pair = 1,
        padding: int | Pair = 0,
        bias: bool = True,
    ) -> str:
        op = Conv(out, pair(kernel), pair(stride), pair(padding), bias)
        return self.add(name, op, x)

    def conv_bn_relu(
        self,
        name: str,
        x: str,
        out: int,
        kernel: int | Pair,
        *,
        eps: float,
        stride: int | Pair = 1,
        padding: int | Pair = 0,
    ) -> str:
        """Bias-free convolution, batch norm, ReLU: torchvision's ``BasicConv2d``."""
        x = self.conv(f"{name}_conv", x, out, kernel, stride=stride, padding=padding, bias=False)
        x = self.add(f"{name}_bn", BatchNorm(eps), x)
        return self.add(f"{name}_relu", Act("relu"), x)

    def relu(self, name: str, x: str) -> str:
        return self.add(name, Act("relu"), x)

    def max_pool(
        self,
        name: str,
        x: str,
        kernel: int | Pair,
        stride: int | Pair,
        *,
        padding: int | Pair = 0,
        ceil_mode: bool = False,
    ) -> str:
        return self.add(name, MaxPool(pair(kernel), pair(stride), pair(padding), ceil_mode), x)

    def avg_pool(
        self, name: str, x: str, kernel: int | Pair, stride: int | Pair, *, padding: int | Pair = 0
    ) -> str:
        return self.add(name, AvgPool(pair(kernel), pair(stride), pair(padding)), x)

    def linear(self, name: str, x: str, out: int, *, bias: bool = True) -> str:
        return self.add(name, Linear(out, bias), x)

    def build(self, output: str, aux_output: str | None = None) -> Graph:
        return Graph(tuple(self.nodes), output, aux_output)
