"""The generated torch forward: straight-line code, in place where torchvision is, never wrong."""

from __future__ import annotations

import copy

import pytest

from gpudoctor.refmodels import get_spec
from gpudoctor.refmodels.graph import INPUT, Add, BatchNorm, GraphBuilder
from gpudoctor.refmodels.torch_builder import forward_source

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def test_resnet_adds_and_relus_work_in_place_as_torchvision_s_do():
    graph = get_spec("resnet50").graph_for(aux_logits=False)
    source, inplace = forward_source(graph)
    assert source.count("+=") == 16  # one residual add per bottleneck block
    relus = [n.name for n in graph.nodes if n.name.endswith(("relu1", "relu2", "relu3"))]
    assert set(relus) <= inplace  # after a batch norm or an add: nothing else reads them
    assert "m[" in source and "for " not in source  # straight-line, no interpreter loop


def test_tanh_outputs_and_the_input_are_never_overwritten():
    _, inplace = forward_source(get_spec("lenet5").graph_for(aux_logits=False))
    assert inplace == frozenset()
    g = GraphBuilder()
    x = g.relu("r", INPUT)  # the caller's tensor must survive
    graph = g.build(x)
    assert forward_source(graph)[1] == frozenset()


def test_a_value_read_twice_is_not_overwritten():
    g = GraphBuilder()
    a = g.add("bn", BatchNorm(1e-5), g.conv("c", INPUT, 4, 3, padding=1))
    r = g.relu("r", a)
    s = g.add("sum", Add(), a, r)  # a is read by the ReLU and by the add
    _, inplace = forward_source(g.build(s))
    assert "r" not in inplace and "sum" not in inplace


def _tiny_residual() -> object:
    from gpudoctor.refmodels.counting import infer_shapes
    from gpudoctor.refmodels.torch_builder import _graph_module_class, init_weights

    g = GraphBuilder()
    x = g.conv_bn_relu("stem", INPUT, 4, 3, eps=1e-5, padding=1)
    y = g.add("b_bn", BatchNorm(1e-5), g.conv("b_conv", x, 4, 3, padding=1))
    out = g.relu("out_relu", g.add("add", Add(), y, x))
    graph = g.build(out)
    model = _graph_module_class()(graph, infer_shapes(graph, (6, 6, 2)))
    init_weights(model, seed=0)
    return model


def test_training_through_the_in_place_ops_gives_the_out_of_place_gradients():
    model = _tiny_residual()
    x = torch.randn(3, 2, 6, 6, generator=torch.Generator().manual_seed(1))
    model.train()
    model(x).square().sum().backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    # the same network written out of place, by hand
    m = model._modules
    model.zero_grad()
    stem = torch.relu(m["stem_bn"](m["stem_conv"](x)))
    y = m["b_bn"](m["b_conv"](stem))
    torch.relu(y + stem).square().sum().backward()
    for key, param in model.named_parameters():
        assert torch.allclose(param.grad, grads[key], atol=1e-6), key


def test_a_copy_runs_its_own_weights():
    model = _tiny_residual().eval()
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.stem_conv.weight.zero_()
    x = torch.randn(1, 2, 6, 6)
    with torch.inference_mode():
        assert not torch.equal(model(x), twin(x))
        assert torch.equal(twin(x), twin(x))
