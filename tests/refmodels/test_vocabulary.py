"""Every op of the vocabulary, and every padding path of the Keras builder, against torch."""

from __future__ import annotations

import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.refmodels import ModelSpec
from gpudoctor.refmodels.counting import infer_shapes
from gpudoctor.refmodels.graph import (
    INPUT,
    Act,
    AdaptiveAvgPool,
    Add,
    BatchNorm,
    Concat,
    Dropout,
    Flatten,
    GraphBuilder,
)
from gpudoctor.refmodels.keras_builder import same_pads, torch_pads
from tests.refmodels.helpers import (
    assert_close,
    keras_logits,
    keras_trainable,
    perturb_batchnorm,
    torch_trainable,
)


def _toy() -> ModelSpec:
    """16x16 input, no ReLU before the pools so they see negative values."""
    g = GraphBuilder()
    x = g.conv("c1", INPUT, 8, 7, stride=2, padding=3, bias=False)  # pads (3, 2): explicit
    x = g.add("bn1", BatchNorm(1e-3), x)
    x = g.max_pool("p1", x, 3, 2, padding=1)  # pads (1, 0): the -inf padding layer
    a = g.max_pool("a", x, 3, 1, padding=1, ceil_mode=True)  # Keras 'same'
    b = g.avg_pool("b", x, 3, 1, padding=1)  # zeros counted in the mean
    c = g.add("c_tanh", Act("tanh"), g.conv("c", x, 6, (1, 3), padding=(0, 1)))
    y = g.conv("proj", g.add("cat", Concat(), a, b, c), 8, 1)
    y = g.add("sum", Add(), y, x)
    y = g.max_pool("p2", y, 3, 2, ceil_mode=True)  # 4 -> 2 with a partial window
    z = g.add(
        "pool4to2", AdaptiveAvgPool((2, 2)), g.add("sum_relu", Act("relu"), g.add("s", Add(), x, x))
    )
    y = g.add("cat2", Concat(), y, z)
    y = g.add("same_size", AdaptiveAvgPool((2, 2)), y)  # identity
    y = g.add("flatten", Flatten(), y)  # a 2x2 map: the dense rows need reordering
    y = g.add("drop", Dropout(0.5), y)
    graph = g.build(g.linear("fc", y, 5))
    return ModelSpec(
        name="toy",
        title="toy",
        year=2024,
        paper="",
        cite="",
        introduced="",
        input_shape=(16, 16, 3),
        num_classes=5,
        params=0,
        macs=0,
        depth=0,
        graph=graph,
        source="",
    )


def test_torch_pads_versus_tensorflow_same():
    # ResNet's stem: torch pads (3, 2) and (1, 0) where 'same' would pad (2, 3) and (0, 1)
    assert torch_pads((3, 224, 224), (7, 7), (2, 2), (3, 3), False) == ((3, 2), (3, 2))
    assert same_pads((3, 224, 224), (7, 7), (2, 2)) == ((2, 3), (2, 3))
    assert torch_pads((64, 112, 112), (3, 3), (2, 2), (1, 1), False) == ((1, 0), (1, 0))
    # GoogLeNet's ceil-mode pools are exactly 'same'
    assert torch_pads((64, 112, 112), (3, 3), (2, 2), (0, 0), True) == ((0, 1), (0, 1))
    assert same_pads((64, 112, 112), (3, 3), (2, 2)) == ((0, 1), (0, 1))


def test_toy_shapes():
    spec = _toy()
    shapes = infer_shapes(spec.graph, spec.input_shape)
    assert shapes["c1"] == (8, 8, 8)
    assert shapes["p1"] == (8, 4, 4)
    assert shapes["cat"] == (22, 4, 4)
    assert shapes["p2"] == (8, 2, 2)
    assert shapes["flatten"] == (64,)


@pytest.mark.torch
@pytest.mark.tensorflow
def test_every_op_matches_between_torch_and_keras():
    import numpy as np
    import torch

    from gpudoctor.refmodels.inputs import make_input
    from gpudoctor.refmodels.keras_builder import build_keras
    from gpudoctor.refmodels.torch_builder import build_torch
    from gpudoctor.refmodels.weights import copy_torch_to_keras

    spec = _toy()
    torch_model = build_torch(spec, seed=5, calibrate=False)
    perturb_batchnorm(torch_model, seed=6, stats=True)
    keras_model = build_keras(spec)
    layer_types = {type(layer).__name__ for layer in keras_model.layers}
    assert {"ZeroPadding2D", "NegInfPadding2D", "Identity"} <= layer_types
    copy_torch_to_keras(torch_model, keras_model)
    assert torch_trainable(torch_model) == keras_trainable(keras_model) == spec.compute_params()
    x = make_input(spec, 3, seed=7) - 2.0  # mostly negative, so zero padding would show
    with torch.no_grad():
        want = torch_model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
    assert_close(want.numpy(), keras_logits(keras_model, x), rel=1e-4)


@pytest.mark.torch
def test_aux_logits_only_where_there_is_an_aux_head():
    from gpudoctor.refmodels.torch_builder import build_torch

    with pytest.raises(BadInputError, match="auxiliary"):
        build_torch("lenet5", aux_logits=True)


@pytest.mark.torch
def test_torch_model_runs_in_train_mode_and_backpropagates():

    from gpudoctor.refmodels.torch_builder import build_torch, make_torch_input

    model = build_torch("lenet5").train()
    loss = model(make_torch_input("lenet5", 2)).sum()
    loss.backward()
    assert model.c1.weight.grad is not None
    assert model.training


def test_make_input_layouts_hold_the_same_values():
    import numpy as np

    from gpudoctor.refmodels import get_spec
    from gpudoctor.refmodels.inputs import make_input

    spec = get_spec("lenet5")
    nhwc = make_input(spec, 2, seed=1)
    assert nhwc.shape == (2, 32, 32, 1)
    assert nhwc.dtype == np.float32
    assert np.array_equal(make_input(spec, 2, seed=1, layout="nchw"), nhwc.transpose(0, 3, 1, 2))
    assert not np.array_equal(make_input(spec, 2, seed=2), nhwc)


@pytest.mark.torch
def test_a_deep_copy_runs_its_own_modules():
    # verify moves a deep copy of the CPU model to the GPU and compares the two
    import copy

    import torch

    from gpudoctor.refmodels.torch_builder import build_torch, make_torch_input

    model = build_torch("lenet5")
    twin = copy.deepcopy(model)
    x = make_torch_input("lenet5", 2)
    with torch.no_grad():
        before = model(x)
        twin.output.weight.zero_()
        twin.output.bias.fill_(1.0)
        assert torch.equal(model(x), before)
        assert torch.equal(twin(x), torch.ones(2, 10))
