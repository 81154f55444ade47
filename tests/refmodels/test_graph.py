"""The layer-graph vocabulary: building, selecting the auxiliary head, shape rules."""

from __future__ import annotations

import pytest

from gpudoctor.refmodels.counting import infer_shapes, pool_out
from gpudoctor.refmodels.graph import INPUT, Add, Concat, Flatten, GraphBuilder


def test_builder_rejects_duplicate_and_unknown_names():
    g = GraphBuilder()
    g.conv("a", INPUT, 4, 3)
    with pytest.raises(ValueError, match="duplicate"):
        g.conv("a", INPUT, 4, 3)
    with pytest.raises(ValueError, match="unknown"):
        g.conv("b", "nowhere", 4, 3)


def test_select_drops_the_auxiliary_head():
    g = GraphBuilder()
    x = g.conv("trunk", INPUT, 4, 3)
    with g.auxiliary():
        aux = g.linear("aux_fc", g.add("aux_flat", Flatten(), x), 2)
    graph = g.build(g.linear("fc", g.add("flat", Flatten(), x), 2), aux_output=aux)
    plain = graph.select(aux_logits=False)
    assert [n.name for n in plain.nodes] == ["trunk", "flat", "fc"]
    assert plain.outputs == ("fc",)
    assert graph.select(aux_logits=True).outputs == ("fc", "aux_fc")
    with pytest.raises(ValueError):
        plain.select(aux_logits=True)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pad", "ceil", "expected"),
    [
        (112, 3, 2, 0, True, 56),  # GoogLeNet maxpool1
        (112, 3, 2, 0, False, 55),
        (112, 3, 2, 1, False, 56),  # ResNet maxpool
        (14, 2, 2, 0, True, 7),
        (28, 3, 1, 1, True, 28),
        (6, 3, 2, 1, True, 4),  # the last window starts inside the input
        (5, 2, 2, 1, True, 3),  # a window starting in the right padding is dropped
    ],
)
def test_pool_out_follows_torch_rounding(size, kernel, stride, pad, ceil, expected):
    assert pool_out(size, kernel, stride, pad, ceil) == expected


def test_joins_check_their_shapes():
    g = GraphBuilder()
    a = g.conv("a", INPUT, 4, 3)
    b = g.conv("b", INPUT, 4, 5)
    g.add("bad_add", Add(), a, b)
    with pytest.raises(ValueError, match="cannot add"):
        infer_shapes(g.build("bad_add"), (8, 8, 1))
    g2 = GraphBuilder()
    c = g2.add("cat", Concat(), g2.conv("a", INPUT, 4, 3), g2.conv("b", INPUT, 6, 3, padding=0))
    assert infer_shapes(g2.build(c), (8, 8, 1))["cat"] == (10, 6, 6)


@pytest.mark.torch
def test_pool_out_agrees_with_torch_on_a_grid():
    import torch

    for size in range(3, 12):
        x = torch.zeros(1, 1, size, size)
        for kernel in (2, 3):
            for stride in (1, 2, 3):
                for pad in range(kernel // 2 + 1):
                    for ceil in (False, True):
                        pool = torch.nn.MaxPool2d(kernel, stride, pad, ceil_mode=ceil)
                        got = pool_out(size, kernel, stride, pad, ceil)
                        assert got == pool(x).shape[-1], (size, kernel, stride, pad, ceil)
