"""Build a reference model's description as a torch.nn.Module (NCHW)."""

from __future__ import annotations

import functools
from typing import Any

from gpudoctor.errors import BadInputError
from gpudoctor.refmodels import ModelSpec, resolve
from gpudoctor.refmodels.counting import Shape, infer_shapes
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
)


def _module(node: Node, in_shape: Shape, *, inplace: bool = False) -> Any:
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
        return nn.ReLU(inplace=inplace) if op.fn == "relu" else nn.Tanh()
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


_OVERWRITABLE = (Conv, BatchNorm, Linear, Add, Concat)
"""Ops whose backward never reads their own output, so a reader may overwrite it in place
(torchvision's ReLU(inplace=True) after a batch norm, ``out += identity``); never Tanh or ReLU."""


def forward_source(graph: Graph) -> tuple[str, frozenset[str]]:
    """Python source of ``forward(self, input)`` for ``graph``, and the nodes that work in place.

    Straight-line code, as a person would write the module: no per-node interpreter work at
    run time. A ReLU overwrites its input, and a residual add its first operand, when that
    value has no other reader, is not an output and came from an op whose backward does not
    need it. Each value is deleted after its last reader so that memory stays flat.
    """
    index = {node.name: i for i, node in enumerate(graph.nodes)}
    readers: dict[str, int] = {}
    last_use: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for name in node.inputs:
            readers[name] = readers.get(name, 0) + 1
            last_use[name] = i
    var = {INPUT: "x"} | {node.name: f"v{i}" for i, node in enumerate(graph.nodes)}

    def overwritable(name: str) -> bool:
        return (
            name != INPUT
            and readers.get(name) == 1
            and name not in graph.outputs
            and isinstance(graph.nodes[index[name]].op, _OVERWRITABLE)
        )

    inplace: set[str] = set()
    lines = ["def forward(self, x):", "    m = self._modules"]
    for i, node in enumerate(graph.nodes):
        args = [var[name] for name in node.inputs]
        out = var[node.name]
        op = node.op
        if isinstance(op, Concat):
            lines.append(f"    {out} = torch.cat([{', '.join(args)}], 1)")
        elif isinstance(op, Add):
            if overwritable(node.inputs[0]):
                inplace.add(node.name)
                lines.append(f"    {args[0]} += {' + '.join(args[1:])}")
                lines.append(f"    {out} = {args[0]}")
            else:
                lines.append(f"    {out} = {' + '.join(args)}")
        else:
            if isinstance(op, Act) and op.fn == "relu" and overwritable(node.inputs[0]):
                inplace.add(node.name)
            lines.append(f"    {out} = m[{node.name!r}]({args[0]})")
        dead = [
            var[n]
            for n in dict.fromkeys(node.inputs)
            if last_use[n] == i and n not in graph.outputs
        ]
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    if graph.aux_output is None:
        lines.append(f"    return {var[graph.output]}")
    else:
        lines.append(f"    return {var[graph.output]}, {var[graph.aux_output]}")
    return "\n".join(lines) + "\n", frozenset(inplace)


@functools.cache
def _graph_module_class() -> type[Any]:
    """nn.Module subclass that runs a Graph; defined on first use so torch loads lazily."""
    import torch
    from torch import nn

    class GraphModule(nn.Module):
        """One submodule per node, registered under the node's name; forward is generated."""

        def __init__(self, graph: Graph, shapes: dict[str, Shape]) -> None:
            super().__init__()
            self.graph = graph
            source, inplace = forward_source(graph)
            for node in graph.nodes:
                inp = node.name in inplace
                module = _module(node, shapes[node.inputs[0]], inplace=inp)
                if module is not None:
                    self.add_module(node.name, module)
            namespace: dict[str, Any] = {"torch": torch}
            # generated from our own graph description, never from input: no injection path
            code = compile(source, f"<gpudoctor forward of {graph.output}>", "exec")
            exec(code, namespace)  # noqa: S102
            # a plain function, not a bound method: copies and replicas pass their own self
            self._forward_fn = namespace["forward"]
            self.forward_source = source

        def forward(self, x: torch.Tensor) -> Any:
            return self._forward_fn(self, x)

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
