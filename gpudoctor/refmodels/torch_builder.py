"""Build a reference model's description as a torch.nn.Module (NCHW)."""

from __future__ import annotations

import functools
from typing import Any

from gpudoctor.errors import BadInputError
from gpudoctor.refmodels import ModelSpec, resolve
from gpudoctor.refmodels.counting import Shape, infer_shapes
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
    Graph,
    Linear,
    MaxPool,
    Node,
)


def _module(node: Node, in_shape: Shape) -> Any:
    """The torch module for one node; None for the joins, which forward does itself."""
    from torch import nn

    op = node.op
    if isinstance(op, Conv):
        return nn.Conv2d(
            in_shape[0], op.out_channels, op.kernel, op.stride, op.padding, bias=op.bias
        )
    if isinstance(op, BatchNorm):
        return nn.BatchNorm2d(in_shape[0], eps=op.eps, momentum=op.momentum)
    if isinstance(op, Act):
        return nn.ReLU() if op.fn == "relu" else nn.Tanh()
    if isinstance(op, MaxPool):
        return nn.MaxPool2d(op.kernel, op.stride, op.padding, ceil_mode=op.ceil_mode)
    if isinstance(op, AvgPool):
        include_pad = op.count_include_pad
        return nn.AvgPool2d(op.kernel, op.stride, op.padding, count_include_pad=include_pad)
    if isinstance(op, AdaptiveAvgPool):
        return nn.AdaptiveAvgPool2d(op.output)
    if isinstance(op, Flatten):
        return nn.Flatten(1)
    if isinstance(op, Dropout):
        return nn.Dropout(op.rate)
    if isinstance(op, Linear):
        return nn.Linear(in_shape[0], op.out_features, bias=op.bias)
    if isinstance(op, Concat | Add):
        return None
    raise TypeError(f"unknown op {op!r}")


@functools.cache
def _graph_module_class() -> type[Any]:
    """nn.Module subclass that runs a Graph; defined on first use so torch loads lazily."""
    import torch
    from torch import nn

    class GraphModule(nn.Module):
        """Runs the nodes in order; each node's module is registered under the node's name."""

        def __init__(self, graph: Graph, shapes: dict[str, Shape]) -> None:
            super().__init__()
            self.graph = graph
            self.joins: dict[str, str] = {}
            last_use: dict[str, int] = {}
            for index, node in enumerate(graph.nodes):
                module = _module(node, shapes[node.inputs[0]])
                if module is None:
                    self.joins[node.name] = type(node.op).__name__
                else:
                    self.add_module(node.name, module)
                for name in node.inputs:
                    last_use[name] = index
            # drop each activation after its last reader, so memory stays flat in deep nets
            self.release: list[list[str]] = [[] for _ in graph.nodes]
            for name, index in last_use.items():
                if name not in graph.outputs:
                    self.release[index].append(name)

        def forward(self, x: torch.Tensor) -> Any:
            values: dict[str, torch.Tensor] = {"input": x}
            for node, release in zip(self.graph.nodes, self.release, strict=True):
                args = [values[name] for name in node.inputs]
                # looked up by name each time, so copies and replicas use their own modules
                module = self._modules.get(node.name)
                if module is not None:
                    values[node.name] = module(args[0])
                elif self.joins[node.name] == "Concat":
                    values[node.name] = torch.cat(args, dim=1)
                else:
                    values[node.name] = functools.reduce(torch.add, args)
                for name in release:
                    del values[name]
            if self.graph.aux_output is None:
                return values[self.graph.output]
            return values[self.graph.output], values[self.graph.aux_output]

    return GraphModule


def init_weights(model: Any, seed: int | None = None) -> None:
    """He-normal convolutions, 1/sqrt(fan-in) dense layers, zero biases, identity batch norms."""
    import torch
    from torch import nn

    generator = None if seed is None else torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                fan_in = module.weight[0].numel()
                gain = 2.0 if isinstance(module, nn.Conv2d) else 1.0
                module.weight.normal_(0.0, (gain / fan_in) ** 0.5, generator=generator)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()


def calibrate_batchnorm(model: Any, spec: ModelSpec, seed: int = 0, batch: int = 1) -> None:
    """Set every batch norm's running statistics from one batch of make_input data.

    Untrained running statistics (mean 0, variance 1) make eval-mode batch norm an identity,
    and then each residual block adds its variance to the next: ResNet-152's logits reach
    ~3e9, far past what float16 holds. Calibrated statistics keep activations near unit scale,
    as in a trained network.
    """
    import torch
    from torch import nn

    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 1.0  # the running statistics become this batch's statistics
    model.train()
    try:
        with torch.no_grad():
            model(make_torch_input(spec, batch, seed))
    finally:
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
        model.eval()


def build_torch(
    spec_or_name: ModelSpec | str,
    *,
    aux_logits: bool = False,
    seed: int | None = 0,
    calibrate: bool = True,
) -> Any:
    """The model as a torch.nn.Module in eval mode, float32, on the CPU.

    Input (N, C, H, W); output the logits (N, classes), or ``(logits, aux_logits)`` when built
    with ``aux_logits=True`` (inception_v3 only; returned in eval mode too, unlike torchvision).
    ``seed`` makes the weights reproducible (None: torch's global generator); ``calibrate``
    sets the batch-norm statistics from one random batch (calibrate_batchnorm).
    """
    spec = resolve(spec_or_name)
    if aux_logits and not spec.has_aux:
        raise BadInputError(f"model {spec.name!r} has no auxiliary classifier")
    graph = spec.graph_for(aux_logits=aux_logits)
    shapes = infer_shapes(graph, spec.input_shape)
    model = _graph_module_class()(graph, shapes)
    init_weights(model, seed)
    if calibrate:
        # training-mode batch norm needs two values per channel: 2 images where a map is 1x1
        norm_inputs = [shapes[n.inputs[0]] for n in graph.nodes if isinstance(n.op, BatchNorm)]
        batch = 2 if any(s[1] * s[2] == 1 for s in norm_inputs) else 1
        calibrate_batchnorm(model, spec, seed=seed or 0, batch=batch)
    return model.eval()


def make_torch_input(spec_or_name: ModelSpec | str, batch: int = 1, seed: int = 0) -> Any:
    """A float32 (N, C, H, W) tensor: the same values as make_keras_input, transposed."""
    import torch

    from gpudoctor.refmodels.inputs import make_input

    return torch.from_numpy(make_input(resolve(spec_or_name), batch, seed, layout="nchw"))
