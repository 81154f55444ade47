"""The model descriptions against the published figures, without any framework."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.refmodels import (
    MODEL_NAMES,
    compute_macs,
    compute_params,
    get_spec,
    parse_model_list,
)
from gpudoctor.refmodels.counting import compute_depth, infer_shapes

# Published figures (shared/reference/benchmarks.md §1: torchvision weights metadata; LeNet-5
# has none, so its figures are the exact sums over its layer shapes: MACs 28·28·6·25 +
# 10·10·16·25·6 + 120·400 + 120·84 + 84·10, which benchmarks.md rounds to 0.000417 G), written
# out here so a slip in the catalog cannot hide itself.
PUBLISHED = {
    "lenet5": ((32, 32, 1), 61_706, 416_520),
    "alexnet": ((224, 224, 3), 61_100_840, 0.714e9),
    "vgg16": ((224, 224, 3), 138_357_544, 15.47e9),
    "googlenet": ((224, 224, 3), 6_624_904, 1.498e9),
    "inception_v3": ((299, 299, 3), 23_834_568, 5.713e9),
    "resnet50": ((224, 224, 3), 25_557_032, 4.089e9),
    "resnet152": ((224, 224, 3), 60_192_808, 11.514e9),
}
INCEPTION_V3_WITH_AUX = 27_161_264  # torchvision Inception_V3_Weights num_params


def test_names_in_historical_order():
    assert tuple(PUBLISHED) == MODEL_NAMES
    years = [get_spec(n).year for n in MODEL_NAMES]
    assert years == sorted(years)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_spec_carries_the_published_figures(name):
    shape, params, macs = PUBLISHED[name]
    spec = get_spec(name)
    assert spec.input_shape == shape
    assert spec.params == params
    assert spec.macs == pytest.approx(macs, rel=1e-3)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_description_has_exactly_the_published_parameters(name):
    assert compute_params(name) == PUBLISHED[name][1]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_figures_say_whether_they_are_computed_or_published(name):
    spec = get_spec(name)
    if spec.figures == "computed":
        # exact: a computed figure is the description's own count, not a rounding of it
        assert (spec.params, spec.macs) == (compute_params(name), compute_macs(name))
        assert spec.source.startswith("computed from the layer shapes")
    else:
        assert spec.figures == "published" and "torchvision" in spec.source
    assert (spec.figures == "computed") == (name == "lenet5")


def test_inception_v3_aux_classifier_adds_torchvision_count():
    spec = get_spec("inception_v3")
    assert spec.params_with_aux == INCEPTION_V3_WITH_AUX
    assert spec.compute_params(aux_logits=True) == INCEPTION_V3_WITH_AUX
    assert len(spec.graph_for(aux_logits=True).nodes) > len(spec.layers)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_description_macs_within_two_percent_of_published(name):
    assert compute_macs(name) == pytest.approx(PUBLISHED[name][2], rel=0.02)


@pytest.mark.parametrize(
    ("name", "depth"),
    [
        ("lenet5", 5),
        ("alexnet", 8),
        ("vgg16", 16),
        ("googlenet", 22),  # the paper: "22 layers deep when counting only layers with parameters"
        ("resnet50", 50),
        ("resnet152", 152),
    ],
)
def test_depth_counts_weighted_layers_on_the_longest_path(name, depth):
    spec = get_spec(name)
    assert spec.depth == depth
    assert compute_depth(spec.graph) == depth


def test_inception_v3_depth_matches_its_description():
    spec = get_spec("inception_v3")
    assert spec.depth == spec.compute_depth()


@pytest.mark.parametrize(
    ("name", "node", "shape"),
    [
        # intermediate sizes from torchvision's forward() comments and the papers' tables
        ("lenet5", "s2", (6, 14, 14)),
        ("lenet5", "c5", (120, 1, 1)),
        ("alexnet", "pool5", (256, 6, 6)),
        ("vgg16", "block5_pool", (512, 7, 7)),
        ("googlenet", "maxpool1", (64, 56, 56)),
        ("googlenet", "inception3b", (480, 28, 28)),
        ("googlenet", "maxpool4", (832, 7, 7)),
        ("inception_v3", "Conv2d_1a_3x3_relu", (32, 149, 149)),
        ("inception_v3", "maxpool2", (192, 35, 35)),
        ("inception_v3", "Mixed_6a", (768, 17, 17)),
        ("inception_v3", "Mixed_7c", (2048, 8, 8)),
        ("resnet50", "maxpool", (64, 56, 56)),
        ("resnet50", "layer4_2_relu3", (2048, 7, 7)),
        ("resnet152", "layer3_35_relu3", (1024, 14, 14)),
    ],
)
def test_intermediate_shapes(name, node, shape):
    spec = get_spec(name)
    assert infer_shapes(spec.graph, spec.input_shape)[node] == shape


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_output_is_one_logit_per_class(name):
    spec = get_spec(name)
    graph = spec.graph_for()
    assert infer_shapes(graph, spec.input_shape)[graph.output] == (spec.num_classes,)


def test_get_spec_is_lenient_about_case_and_dashes():
    assert get_spec(" Inception-V3 ").name == "inception_v3"


def test_unknown_model_is_bad_input_naming_the_choices():
    with pytest.raises(BadInputError) as info:
        get_spec("resnet18")
    message = str(info.value)
    assert "'resnet18'" in message
    assert "lenet5, alexnet, vgg16, googlenet, inception_v3, resnet50, resnet152" in message


def test_parse_model_list_keeps_order_and_drops_repeats():
    specs = parse_model_list("resnet50, lenet5,resnet50,")
    assert [s.name for s in specs] == ["resnet50", "lenet5"]
    assert [s.name for s in parse_model_list("all")] == list(MODEL_NAMES)


@pytest.mark.parametrize("text", ["", " , ", "lenet5,vgg19"])
def test_parse_model_list_rejects_bad_lists(text):
    with pytest.raises(BadInputError):
        parse_model_list(text)


def test_importing_the_catalog_loads_no_framework():
    code = (
        "import sys, gpudoctor.refmodels as r; r.compute_macs('resnet152');"
        "heavy = [m for m in ('torch', 'tensorflow', 'keras', 'numpy') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_what_a_model_introduced_is_what_its_paper_claims():
    # AlexNet's paper takes ReLU from Nair & Hinton (2010) and dropout from Hinton et al.
    # (2012); batch norm throughout the Inception network is BN-Inception's (arXiv:1502.03167),
    # while label smoothing is Inception v3's own (arXiv:1512.00567, section 7).
    assert not get_spec("alexnet").introduced.startswith("ReLU")
    assert "batch norm" not in get_spec("inception_v3").introduced
    assert "label smoothing" in get_spec("inception_v3").introduced
    # section 3.2: "a 1 x n convolution followed by a n x 1 convolution", as docs/models.md
    # says (`gpudoctor models` said "n×1 then 1×n")
    assert "(1×n then n×1)" in get_spec("inception_v3").introduced


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        ("resnet-50", "resnet50"),
        ("ResNet50", "resnet50"),
        ("ResNet_152", "resnet152"),
        ("inception_v3", "inception_v3"),
        ("inception-v3", "inception_v3"),
        ("InceptionV3", "inception_v3"),
        ("googlenet", "googlenet"),
        ("inception-v1", "googlenet"),
        ("Inception_V1", "googlenet"),
        ("vgg-16", "vgg16"),
        ("VGG_16", "vgg16"),
        ("lenet-5", "lenet5"),
        ("LeNet5", "lenet5"),
        ("AlexNet", "alexnet"),
    ],
)
def test_every_usual_spelling_names_its_model(spelling, name):
    # resnet-50 was refused while inception-v3 was accepted: only '-' -> '_' was folded
    assert get_spec(spelling).name == name
    assert parse_model_list(f"{spelling},lenet5")[0].name == name


def test_the_accepted_spellings_fold_to_one_model_each():
    from gpudoctor.refmodels.catalog import BY_KEY, SPECS

    for spec in SPECS:  # every spec reachable by its own name, none shadowed by another's alias
        assert get_spec(spec.name) is spec
        assert get_spec(spec.title) is spec
    assert len(set(map(id, BY_KEY.values()))) == len(SPECS)


def test_all_does_not_hide_a_misspelt_name():
    with pytest.raises(BadInputError, match="'resnet9000'"):
        parse_model_list("all,resnet9000")
    assert [s.name for s in parse_model_list("ALL")] == list(MODEL_NAMES)
