"""The plain stacks: LeNet-5, AlexNet (torchvision's single-tower form) and VGG-16."""

from __future__ import annotations

from gpudoctor.refmodels.graph import (
    INPUT,
    Act,
    AdaptiveAvgPool,
    Dropout,
    Flatten,
    Graph,
    GraphBuilder,
)


def lenet5() -> Graph:
    """LeNet-5 as in LeCun et al. 1998, with a full C3 table and a linear output layer.

    The paper's C3 connects each map to a subset of S2's maps, its S2/S4 subsampling has a
    trainable coefficient and bias per map, and its output is an RBF layer; the common modern
    form (and the 61,706-parameter count) uses a full C3, plain average pooling and a linear
    output, keeping the paper's tanh.
    """
    g = GraphBuilder()
    x = g.conv("c1", INPUT, 6, 5)
    x = g.add("c1_tanh", Act("tanh"), x)
    x = g.avg_pool("s2", x, 2, 2)
    x = g.conv("c3", x, 16, 5)
    x = g.add("c3_tanh", Act("tanh"), x)
    x = g.avg_pool("s4", x, 2, 2)
    x = g.conv("c5", x, 120, 5)  # 5x5 input, so C5 is fully connected, as the paper notes
    x = g.add("c5_tanh", Act("tanh"), x)
    x = g.add("flatten", Flatten(), x)
    x = g.linear("f6", x, 84)
    x = g.add("f6_tanh", Act("tanh"), x)
    return g.build(g.linear("output", x, 10))


def alexnet() -> Graph:
    """torchvision's AlexNet: the single-GPU 64-192-384-256-256 form of "one weird trick"."""
    g = GraphBuilder()
    x = INPUT
    # out channels, kernel, stride, padding, max pool after
    layers: tuple[tuple[int, int, int, int, bool], ...] = (
        (64, 11, 4, 2, True),
        (192, 5, 1, 2, True),
        (384, 3, 1, 1, False),
        (256, 3, 1, 1, False),
        (256, 3, 1, 1, True),
    )
    for i, (out, kernel, stride, pad, pool) in enumerate(layers, start=1):
        x = g.conv(f"conv{i}", x, out, kernel, stride=stride, padding=pad)
        x = g.relu(f"conv{i}_relu", x)
        if pool:
            x = g.max_pool(f"pool{i}", x, 3, 2)
    return g.build(_classifier(g, x, (6, 6), 4096, dropout_first=True))


def vgg16() -> Graph:
    """VGG-16 (configuration D): thirteen 3x3 convolutions in five blocks, three dense layers."""
    g = GraphBuilder()
    x = INPUT
    for block, (width, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), 1):
        for i in range(1, convs + 1):
            x = g.conv(f"block{block}_conv{i}", x, width, 3, padding=1)
            x = g.relu(f"block{block}_conv{i}_relu", x)
        x = g.max_pool(f"block{block}_pool", x, 2, 2)
    return g.build(_classifier(g, x, (7, 7), 4096, dropout_first=False))


def _classifier(
    g: GraphBuilder, x: str, pool: tuple[int, int], width: int, *, dropout_first: bool
) -> str:
    """torchvision's head: adaptive average pool, flatten, two dropout+dense layers, the logits.

    AlexNet puts dropout before each hidden dense layer, VGG after it.
    """
    x = g.add("avgpool", AdaptiveAvgPool(pool), x)
    x = g.add("flatten", Flatten(), x)
    for i in (1, 2):
        if dropout_first:
            x = g.add(f"fc{i}_dropout", Dropout(0.5), x)
        x = g.relu(f"fc{i}_relu", g.linear(f"fc{i}", x, width))
        if not dropout_first:
            x = g.add(f"fc{i}_dropout", Dropout(0.5), x)
    return g.linear("fc3", x, 1000)
