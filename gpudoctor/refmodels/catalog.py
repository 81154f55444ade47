"""ModelSpec, and the seven reference models with their published sizes and history."""

from __future__ import annotations

from dataclasses import dataclass, field

from gpudoctor.refmodels import classic, counting, inception, resnet
from gpudoctor.refmodels.graph import Graph, Node

_TV = "torchvision {} meta (num_params, _ops), via shared/reference/benchmarks.md §1"


@dataclass(frozen=True)
class ModelSpec:
    """One reference model: what it is, its published size, and its layer graph."""

    name: str
    """The name the CLI accepts (``resnet50``)."""
    title: str
    """The model as people call it (``ResNet-50``)."""
    year: int
    """The year its paper was published."""
    paper: str
    """Full citation of the paper that introduced the model."""
    cite: str
    """First author(s) of ``paper``, for tables (``He et al.``)."""
    introduced: str
    """What the model brought to the field, in a few words."""
    input_shape: tuple[int, int, int]
    """(H, W, C) of one input image."""
    num_classes: int
    """The classes of its classifier (1000 for ImageNet's)."""
    params: int
    """Trainable parameters of the model as built by default (published or computed: see
    ``figures``)."""
    macs: int
    """Forward multiply-accumulates per image, a fused multiply-add counting once (published or
    computed: see ``figures``)."""
    depth: int
    """Weighted layers (convolutions and dense layers) on the longest path."""
    graph: Graph = field(repr=False)
    """The description; auxiliary heads in it are built only with ``aux_logits=True``."""
    source: str
    """Where ``params`` and ``macs`` come from."""
    params_with_aux: int | None = None
    """Published count with the auxiliary classifier, for the models that have one."""
    aliases: tuple[str, ...] = ()
    """Other names the CLI accepts besides ``name`` and the spellings ``lookup_key`` folds
    together (``inception-v1`` for GoogLeNet)."""
    figures: str = "published"
    """``published`` (``params`` and ``macs`` as ``source`` publishes them, rounded there) or
    ``computed`` (exact counts from the layer shapes: no published figure exists)."""

    @property
    def layers(self) -> tuple[Node, ...]:
        """The nodes of the default graph, in order."""
        return self.graph_for().nodes

    @property
    def has_aux(self) -> bool:
        return self.graph.aux_output is not None

    def graph_for(self, *, aux_logits: bool = False) -> Graph:
        """The graph to build: the auxiliary classifier kept only when asked for."""
        return self.graph.select(aux_logits=aux_logits)

    def compute_params(self, *, aux_logits: bool = False) -> int:
        """Trainable parameters counted from the description (no framework needed)."""
        return counting.compute_params(self.graph_for(aux_logits=aux_logits), self.input_shape)

    def compute_macs(self, *, aux_logits: bool = False) -> int:
        """Forward MACs per image counted from the description (convolutions and dense layers)."""
        return counting.compute_macs(self.graph_for(aux_logits=aux_logits), self.input_shape)

    def compute_depth(self) -> int:
        return counting.compute_depth(self.graph_for())


def _specs() -> tuple[ModelSpec, ...]:
    imagenet = (224, 224, 3)
    return (
        ModelSpec(
            name="lenet5",
            title="LeNet-5",
            year=1998,
            paper="LeCun, Bottou, Bengio, Haffner: Gradient-based learning applied to document "
            "recognition, Proc. IEEE 86(11), 1998",
            cite="LeCun et al.",
            introduced="learned convolutions with shared weights, trained by backpropagation",
            input_shape=(32, 32, 1),
            num_classes=10,
            params=61_706,
            # C1 117,600 + C3 240,000 + C5 48,000 + F6 10,080 + output 840; benchmarks.md §1
            # rounds the same sum to 0.000417 G
            macs=416_520,
            depth=5,
            graph=classic.lenet5(),
            source="computed from the layer shapes (no published figure for this form); "
            "shared/reference/benchmarks.md §1 gives it rounded, 0.000417 GMACs",
            figures="computed",
        ),
        ModelSpec(
            name="alexnet",
            title="AlexNet",
            year=2012,
            paper="Krizhevsky, Sutskever, Hinton: ImageNet classification with deep convolutional "
            "neural networks, NeurIPS 2012; single-tower form from Krizhevsky: One weird trick "
            "for parallelizing convolutional neural networks, arXiv:1404.5997",
            cite="Krizhevsky et al.",
            # Not ReLU or dropout themselves: the paper credits them to Nair & Hinton (2010)
            # and Hinton et al. (2012).
            introduced="a deep CNN trained on GPUs that won ImageNet, with ReLU and dropout",
            input_shape=imagenet,
            num_classes=1000,
            params=61_100_840,
            macs=714_000_000,
            depth=8,
            graph=classic.alexnet(),
            source=_TV.format("AlexNet_Weights.IMAGENET1K_V1"),
        ),
        ModelSpec(
            name="vgg16",
            title="VGG-16",
            year=2014,
            paper="Simonyan, Zisserman: Very deep convolutional networks for large-scale image "
            "recognition, arXiv:1409.1556 (ICLR 2015)",
            cite="Simonyan & Zisserman",
            introduced="depth from stacked small 3×3 convolutions",
            input_shape=imagenet,
            num_classes=1000,
            params=138_357_544,
            macs=15_470_000_000,
            depth=16,
            graph=classic.vgg16(),
            source=_TV.format("VGG16_Weights.IMAGENET1K_V1"),
        ),
        ModelSpec(
            name="googlenet",
            title="GoogLeNet (Inception v1)",
            year=2014,
            paper="Szegedy et al.: Going deeper with convolutions, arXiv:1409.4842 (CVPR 2015)",
            cite="Szegedy et al.",
            introduced="inception modules: parallel 1×1, 3×3, 5×5 and pool branches, "
            "1×1 bottlenecks",
            input_shape=imagenet,
            num_classes=1000,
            params=6_624_904,
            macs=1_498_000_000,
            depth=22,
            graph=inception.googlenet(),
            source=_TV.format("GoogLeNet_Weights.IMAGENET1K_V1"),
            aliases=("inception_v1",),
        ),
        ModelSpec(
            name="inception_v3",
            title="Inception v3",
            year=2015,
            paper="Szegedy et al.: Rethinking the Inception architecture for computer vision, "
            "arXiv:1512.00567 (CVPR 2016)",
            cite="Szegedy et al.",
            # Batch norm throughout was BN-Inception's (Ioffe & Szegedy, arXiv:1502.03167).
            introduced="factorised convolutions (1×n then n×1), label smoothing",
            input_shape=(299, 299, 3),
            num_classes=1000,
            params=23_834_568,
            macs=5_713_000_000,
            depth=48,
            graph=inception.inception_v3(),
            source=_TV.format("Inception_V3_Weights.IMAGENET1K_V1")
            + "; num_params there (27,161,264) includes the auxiliary classifier",
            params_with_aux=27_161_264,
        ),
        ModelSpec(
            name="resnet50",
            title="ResNet-50",
            year=2015,
            paper="He, Zhang, Ren, Sun: Deep residual learning for image recognition, "
            "arXiv:1512.03385 (CVPR 2016)",
            cite="He et al.",
            introduced="residual connections, 1×1-3×3-1×1 bottleneck blocks",
            input_shape=imagenet,
            num_classes=1000,
            params=25_557_032,
            macs=4_089_000_000,
            depth=50,
            graph=resnet.resnet50(),
            source=_TV.format("ResNet50_Weights.IMAGENET1K_V1"),
        ),
        ModelSpec(
            name="resnet152",
            title="ResNet-152",
            year=2015,
            paper="He, Zhang, Ren, Sun: Deep residual learning for image recognition, "
            "arXiv:1512.03385 (CVPR 2016)",
            cite="He et al.",
            introduced="the same residual design taken to 152 layers",
            input_shape=imagenet,
            num_classes=1000,
            params=60_192_808,
            macs=11_514_000_000,
            depth=152,
            graph=resnet.resnet152(),
            source=_TV.format("ResNet152_Weights.IMAGENET1K_V1"),
        ),
    )


SPECS: tuple[ModelSpec, ...] = _specs()
"""The reference CNNs, LeNet-5 to ResNet-152: one description each, built in torch and Keras."""


def lookup_key(name: str) -> str:
    """The form names are matched in: case, spaces, ``-``, ``_`` and ``.`` ignored, so that
    ``ResNet-50``, ``resnet_50`` and ``resnet50`` are one name (as are ``inception-v3`` and
    ``InceptionV3``)."""
    return "".join(ch for ch in name.lower() if ch not in " -_.")


BY_KEY: dict[str, ModelSpec] = {
    lookup_key(alias): spec for spec in SPECS for alias in (spec.name, spec.title, *spec.aliases)
}
"""Every accepted spelling (folded by ``lookup_key``): the CLI name, the title as
``gpudoctor models`` prints it (``VGG-16``, ``LeNet-5``) and the aliases."""
