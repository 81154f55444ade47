"""ResNet-50 and ResNet-152 with bottleneck blocks, in torchvision's form."""

from __future__ import annotations

from gpudoctor.refmodels.graph import (
    INPUT,
    AdaptiveAvgPool,
    Add,
    BatchNorm,
    Flatten,
    Graph,
    GraphBuilder,
)

EPS = 1e-5
"""torch's BatchNorm default, which torchvision's ResNets keep."""

STAGES = {50: (3, 4, 6, 3), 152: (3, 8, 36, 3)}
"""Bottleneck blocks per stage (conv2_x to conv5_x), the paper's Table 1."""


def _bottleneck(g: GraphBuilder, name: str, x: str, width: int, stride: int, project: bool) -> str:
    """1x1 reduce, 3x3, 1x1 expand (x4), plus the shortcut, then ReLU.

    The stride sits on the 3x3 convolution as in torchvision (often called v1.5); the paper's
    v1 strides the first 1x1. Parameters are the same; the MACs are torchvision's 4.09 G.
    """

    def conv_bn(suffix: str, inp: str, out: int, kernel: int, s: int = 1, pad: int = 0) -> str:
        y = g.conv(f"{name}_conv{suffix}", inp, out, kernel, stride=s, padding=pad, bias=False)
        return g.add(f"{name}_bn{suffix}", BatchNorm(EPS), y)

    y = g.relu(f"{name}_relu1", conv_bn("1", x, width, 1))
    y = g.relu(f"{name}_relu2", conv_bn("2", y, width, 3, stride, 1))
    y = conv_bn("3", y, width * 4, 1)
    shortcut = x
    if project:
        shortcut = g.conv(f"{name}_downsample_conv", x, width * 4, 1, stride=stride, bias=False)
        shortcut = g.add(f"{name}_downsample_bn", BatchNorm(EPS), shortcut)
    return g.relu(f"{name}_relu3", g.add(f"{name}_add", Add(), y, shortcut))


def resnet(layers: int) -> Graph:
    """ResNet-``layers`` (50 or 152) for 1000 classes."""
    g = GraphBuilder()
    x = g.conv("conv1", INPUT, 64, 7, stride=2, padding=3, bias=False)
    x = g.relu("relu", g.add("bn1", BatchNorm(EPS), x))
    x = g.max_pool("maxpool", x, 3, 2, padding=1)
    for stage, blocks in enumerate(STAGES[layers]):
        width = 64 * 2**stage
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _bottleneck(g, f"layer{stage + 1}_{block}", x, width, stride, block == 0)
    x = g.add("avgpool", AdaptiveAvgPool((1, 1)), x)
    x = g.add("flatten", Flatten(), x)
    return g.build(g.linear("fc", x, 1000))


def resnet50() -> Graph:
    return resnet(50)


def resnet152() -> Graph:
    return resnet(152)
