"""GoogLeNet (Inception v1) and Inception v3, in torchvision's forms."""

from __future__ import annotations

from gpudoctor.refmodels.graph import (
    INPUT,
    AdaptiveAvgPool,
    Concat,
    Dropout,
    Flatten,
    Graph,
    GraphBuilder,
)

EPS = 0.001
"""Both torchvision Inception models use BatchNorm eps=0.001 (the TensorFlow ports' value)."""

# (in the paper's order) 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection
_GOOGLENET_MODULES: tuple[tuple[str, tuple[int, int, int, int, int, int]], ...] = (
    ("inception3a", (64, 96, 128, 16, 32, 32)),
    ("inception3b", (128, 128, 192, 32, 96, 64)),
    ("inception4a", (192, 96, 208, 16, 48, 64)),
    ("inception4b", (160, 112, 224, 24, 64, 64)),
    ("inception4c", (128, 128, 256, 24, 64, 64)),
    ("inception4d", (112, 144, 288, 32, 64, 64)),
    ("inception4e", (256, 160, 320, 32, 128, 128)),
    ("inception5a", (256, 160, 320, 32, 128, 128)),
    ("inception5b", (384, 192, 384, 48, 128, 128)),
)


def googlenet() -> Graph:
    """torchvision's GoogLeNet without its two auxiliary heads (as its pretrained weights ship).

    Like torchvision, the "5x5" branch uses a 3x3 kernel (pytorch/vision#906) and BatchNorm
    follows every convolution; the pools round up (``ceil_mode``).
    """
    g = GraphBuilder()

    def cbr(name: str, x: str, out: int, kernel: int, stride: int = 1, padding: int = 0) -> str:
        return g.conv_bn_relu(name, x, out, kernel, eps=EPS, stride=stride, padding=padding)

    x = cbr("conv1", INPUT, 64, 7, stride=2, padding=3)
    x = g.max_pool("maxpool1", x, 3, 2, ceil_mode=True)
    x = cbr("conv2", x, 64, 1)
    x = cbr("conv3", x, 192, 3, padding=1)
    x = g.max_pool("maxpool2", x, 3, 2, ceil_mode=True)
    for name, (c1, c3r, c3, c5r, c5, proj) in _GOOGLENET_MODULES:
        b1 = cbr(f"{name}_branch1", x, c1, 1)
        b2 = cbr(f"{name}_branch2_1", cbr(f"{name}_branch2_0", x, c3r, 1), c3, 3, padding=1)
        b3 = cbr(f"{name}_branch3_1", cbr(f"{name}_branch3_0", x, c5r, 1), c5, 3, padding=1)
        pool = g.max_pool(f"{name}_branch4_pool", x, 3, 1, padding=1, ceil_mode=True)
        b4 = cbr(f"{name}_branch4_1", pool, proj, 1)
        x = g.add(name, Concat(), b1, b2, b3, b4)
        if name == "inception3b":
            x = g.max_pool("maxpool3", x, 3, 2, ceil_mode=True)
        elif name == "inception4e":
            x = g.max_pool("maxpool4", x, 2, 2, ceil_mode=True)
    x = g.add("avgpool", AdaptiveAvgPool((1, 1)), x)
    x = g.add("flatten", Flatten(), x)
    x = g.add("dropout", Dropout(0.2), x)
    return g.build(g.linear("fc", x, 1000))


class _V3:
    """Inception v3's blocks, named as torchvision names them (``Mixed_5b_branch1x1`` ...)."""

    def __init__(self) -> None:
        self.g = GraphBuilder()

    def cbr(
        self,
        name: str,
        x: str,
        out: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> str:
        return self.g.conv_bn_relu(name, x, out, kernel, eps=EPS, stride=stride, padding=padding)

    def chain(self, prefix: str, x: str, *layers: tuple[int, int | tuple[int, int]]) -> str:
        """Stride-1 size-keeping convolutions ``prefix_1``, ``prefix_2``, ... from (out, kernel)."""
        for i, (out, kernel) in enumerate(layers, start=1):
            kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
            x = self.cbr(f"{prefix}_{i}", x, out, kernel, padding=(kh // 2, kw // 2))
        return x

    def pool_branch(self, name: str, x: str, out: int) -> str:
        pooled = self.g.avg_pool(f"{name}_branch_pool_avg", x, 3, 1, padding=1)
        return self.cbr(f"{name}_branch_pool", pooled, out, 1)

    def block_a(self, name: str, x: str, pool_features: int) -> str:
        b1 = self.cbr(f"{name}_branch1x1", x, 64, 1)
        b5 = self.chain(f"{name}_branch5x5", x, (48, 1), (64, 5))
        b3 = self.chain(f"{name}_branch3x3dbl", x, (64, 1), (96, 3), (96, 3))
        return self.g.add(name, Concat(), b1, b5, b3, self.pool_branch(name, x, pool_features))

    def block_b(self, name: str, x: str) -> str:
        b3 = self.cbr(f"{name}_branch3x3", x, 384, 3, stride=2)
        d = self.chain(f"{name}_branch3x3dbl", x, (64, 1), (96, 3))
        d = self.cbr(f"{name}_branch3x3dbl_3", d, 96, 3, stride=2)
        pool = self.g.max_pool(f"{name}_branch_pool", x, 3, 2)
        return self.g.add(name, Concat(), b3, d, pool)

    def block_c(self, name: str, x: str, c7: int) -> str:
        b1 = self.cbr(f"{name}_branch1x1", x, 192, 1)
        b7 = self.chain(f"{name}_branch7x7", x, (c7, 1), (c7, (1, 7)), (192, (7, 1)))
        d = self.chain(
            f"{name}_branch7x7dbl",
            x,
            (c7, 1),
            (c7, (7, 1)),
            (c7, (1, 7)),
            (c7, (7, 1)),
            (192, (1, 7)),
        )
        return self.g.add(name, Concat(), b1, b7, d, self.pool_branch(name, x, 192))

    def block_d(self, name: str, x: str) -> str:
        b3 = self.cbr(f"{name}_branch3x3_2", self.cbr(f"{name}_branch3x3_1", x, 192, 1), 320, 3, 2)
        b7 = self.chain(f"{name}_branch7x7x3", x, (192, 1), (192, (1, 7)), (192, (7, 1)))
        b7 = self.cbr(f"{name}_branch7x7x3_4", b7, 192, 3, stride=2)
        pool = self.g.max_pool(f"{name}_branch_pool", x, 3, 2)
        return self.g.add(name, Concat(), b3, b7, pool)

    def split(self, name: str, x: str) -> str:
        """The 1x3 and 3x1 convolutions side by side, concatenated."""
        a = self.cbr(f"{name}a", x, 384, (1, 3), padding=(0, 1))
        b = self.cbr(f"{name}b", x, 384, (3, 1), padding=(1, 0))
        return self.g.add(f"{name}_concat", Concat(), a, b)

    def block_e(self, name: str, x: str) -> str:
        b1 = self.cbr(f"{name}_branch1x1", x, 320, 1)
        b3 = self.split(f"{name}_branch3x3_2", self.cbr(f"{name}_branch3x3_1", x, 384, 1))
        d = self.chain(f"{name}_branch3x3dbl", x, (448, 1), (384, 3))
        d = self.split(f"{name}_branch3x3dbl_3", d)
        return self.g.add(name, Concat(), b1, b3, d, self.pool_branch(name, x, 192))

    def aux(self, x: str) -> str:
        g = self.g
        with g.auxiliary():
            x = g.avg_pool("AuxLogits_pool", x, 5, 3)
            x = self.cbr("AuxLogits_conv0", x, 128, 1)
            x = self.cbr("AuxLogits_conv1", x, 768, 5)
            x = g.add("AuxLogits_avgpool", AdaptiveAvgPool((1, 1)), x)
            x = g.add("AuxLogits_flatten", Flatten(), x)
            return g.linear("AuxLogits_fc", x, 1000)


def inception_v3() -> Graph:
    """torchvision's Inception v3, its auxiliary classifier (after Mixed_6e) marked ``aux``."""
    v3 = _V3()
    g = v3.g
    x = v3.cbr("Conv2d_1a_3x3", INPUT, 32, 3, stride=2)
    x = v3.cbr("Conv2d_2a_3x3", x, 32, 3)
    x = v3.cbr("Conv2d_2b_3x3", x, 64, 3, padding=1)
    x = g.max_pool("maxpool1", x, 3, 2)
    x = v3.cbr("Conv2d_3b_1x1", x, 80, 1)
    x = v3.cbr("Conv2d_4a_3x3", x, 192, 3)
    x = g.max_pool("maxpool2", x, 3, 2)
    x = v3.block_a("Mixed_5b", x, 32)
    x = v3.block_a("Mixed_5c", x, 64)
    x = v3.block_a("Mixed_5d", x, 64)
    x = v3.block_b("Mixed_6a", x)
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x = v3.block_c(name, x, c7)
    aux = v3.aux(x)
    x = v3.block_d("Mixed_7a", x)
    x = v3.block_e("Mixed_7b", x)
    x = v3.block_e("Mixed_7c", x)
    x = g.add("avgpool", AdaptiveAvgPool((1, 1)), x)
    x = g.add("dropout", Dropout(0.5), x)
    x = g.add("flatten", Flatten(), x)
    return g.build(g.linear("fc", x, 1000), aux_output=aux)
