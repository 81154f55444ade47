"""NVIDIA's published ResNet-50 training figures: loaded, matched to runs, shown, never judged."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gpudoctor.errors import KnowledgeBaseError
from gpudoctor.model.serialize import from_dict
from gpudoctor.verify import figures
from gpudoctor.verify.model import Run, Settings, VerifyResult
from gpudoctor.verify.references import load_references, parse_references
from gpudoctor.verify.render import published_lines, render_markdown, render_text, to_document
from gpudoctor.verify.verdict import judge
from tests.probe.test_gpu_validate import validate

H200 = Path(__file__).resolve().parents[1] / "data" / "verify" / "h200"
A100 = "NVIDIA A100-SXM4-80GB"


def _row(**changes: Any) -> dict[str, Any]:
    import datetime as dt

    row: dict[str, Any] = {
        "gpu": A100,
        "framework": "torch",
        "model": "resnet50",
        "mode": "training",
        "precision": "amp-fp16",
        "gpus": 1,
        "batch_size": 256,
        "total_images_per_second": 2470.0,
        "conditions": "NGC pytorch-21.03, real ImageNet",
        "verified": True,
        "source": "NVIDIA/DeepLearningExamples README",
        "as_of": dt.date(2026, 12, 7),
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not None}


def _refs(*rows: dict[str, Any]):  # type: ignore[no-untyped-def]
    return parse_references({"published_training.toml": {"published": list(rows)}})


def test_the_shipped_figures_are_nvidias_own_a100_rows():
    rows = load_references().published
    assert {(r.gpu, r.framework, r.precision, r.gpus) for r in rows} >= {
        (A100, "torch", "amp-fp16", 1),
        (A100, "torch", "amp-fp16", 8),
        ("NVIDIA A100-SXM4-40GB", "tensorflow", "amp-fp16", 1),
    }
    for r in rows:
        assert r.source.startswith("NVIDIA/DeepLearningExamples ") and r.conditions
    one = next(r for r in rows if (r.gpu, r.precision, r.gpus) == (A100, "amp-fp16", 1))
    eight = next(r for r in rows if (r.gpu, r.precision, r.gpus) == (A100, "amp-fp16", 8))
    # the README's table: 2470 img/s on 1 GPU, 16621 img/s on 8 (2077.6 per GPU)
    assert (one.images_per_second, one.batch_size) == (2470.0, 256)
    assert eight.images_per_second == pytest.approx(16621 / 8)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"conditions": None}, "missing conditions"),
        ({"source": None}, "missing source"),
        ({"precision": "amp"}, "precision 'amp' is not one of"),
        ({"model": "resnet-50"}, "model 'resnet-50' is not one of"),
        ({"framework": "pytorch"}, "framework 'pytorch' is not one of"),
        ({"gpus": 0}, "must be positive"),
        ({"total_images_per_second": -1.0}, "must be positive"),
        ({"gpus": "8"}, "gpus must be a whole number, not '8'"),
        ({"conditions": "  "}, "must not be empty"),
        ({"images_per_second": 2470.0}, "unknown key images_per_second"),
    ],
)
def test_a_bad_row_is_refused_naming_the_problem(changes, says):
    with pytest.raises(KnowledgeBaseError, match=says):
        _refs(_row(**changes))


def test_matching_needs_the_same_gpu_framework_model_and_mode():
    refs = _refs(_row(), _row(gpus=8, total_images_per_second=16621.0), _row(precision="tf32"))
    found = refs.published_for(
        "nvidia a100-sxm4-80gb ", "torch", "resnet50", "training", "amp-fp16"
    )
    assert found is not None and found.gpus == 1  # the one-GPU figure, as verify runs one GPU
    # bf16 autocast stands beside NVIDIA's mixed-precision figure too
    assert refs.published_for(A100, "torch", "resnet50", "training", "amp-bf16") == found
    assert refs.published_for(A100, "torch", "resnet50", "training", "tf32").precision == "tf32"  # type: ignore[union-attr]
    for gpu, fw, model, mode, precision in (
        ("NVIDIA A100-SXM4-40GB", "torch", "resnet50", "training", "amp-fp16"),
        ("NVIDIA A100 80GB PCIe", "torch", "resnet50", "training", "amp-fp16"),
        ("NVIDIA H100 80GB HBM3", "torch", "resnet50", "training", "amp-fp16"),
        (A100, "tensorflow", "resnet50", "training", "amp-fp16"),
        (A100, "torch", "resnet152", "training", "amp-fp16"),
        (A100, "torch", "resnet50", "inference", "amp-fp16"),
        (A100, "torch", "resnet50", "training", "fp32"),
    ):
        assert refs.published_for(gpu, fw, model, mode, precision) is None, (gpu, precision)


def _result(ips: float = 1976.0, precision: str = "amp-fp16", **run: Any) -> VerifyResult:
    settings = Settings(
        models=("resnet50",), framework="torch", device="cuda", mode="training", precision=precision
    )
    gpu = Run(
        model="resnet50",
        framework="torch",
        device="cuda:0",
        device_name=A100,
        mode="training",
        precision=precision,
        layout="channels_last",
        batch_size=64,
        images_per_second=ips,
        block_seconds=(0.1,) * 8,
        flops_per_image=24.5e9,
    )
    common = replace(gpu, role="common", batch_size=8, images_per_second=300.0)
    cpu = replace(gpu, device="cpu", device_name="", precision="fp32", images_per_second=20.0)
    return VerifyResult(settings=settings, runs=(replace(gpu, **run), common, cpu))


def test_only_the_main_gpu_run_gets_the_figure():
    result = figures.with_published_figures(_result(), load_references())
    (figure,) = result.published_figures
    assert (figure.device, figure.gpu, figure.gpus, figure.images_per_second) == (
        "cuda:0",
        A100,
        1,
        2470.0,
    )
    main, common, cpu = result.runs
    assert figures.fraction_of_published(result, main) == pytest.approx(0.8)
    assert figures.fraction_of_published(result, common) is None
    assert figures.fraction_of_published(result, cpu) is None


def test_no_figure_for_a_gpu_nvidia_publishes_none_for():
    result = figures.with_published_figures(
        _result(device_name="NVIDIA H100 80GB HBM3"), load_references()
    )
    assert result.published_figures == () and published_lines(result) == []


def test_the_comparison_line_is_exact_and_the_verdict_does_not_move():
    refs = load_references()
    plain = _result(ips=1976.0)
    result = figures.with_published_figures(plain, refs)
    (line,) = published_lines(result)
    assert line == (
        "NVIDIA publishes 2,470 images/s per GPU for resnet50 training under amp-fp16 in torch "
        "on NVIDIA A100-SXM4-80GB (1 GPU, batch 256; NVIDIA/DeepLearningExamples "
        "PyTorch/Classification/ConvNets/resnet50v1.5/README.md, 'Training performance: NVIDIA "
        "DGX A100 (8x A100 80GB)', 1 GPU, Throughput - mixed precision); this run (cuda:0, "
        "amp-fp16, batch 64, channels-last): 1,976 (0.80 of it). For information, not judged: "
        "NVIDIA's run had NGC pytorch-21.03, real ImageNet, batch 256 per GPU, NHWC, AMP with "
        "static loss scale 128 (configs.yml, DGXA100), 100 iterations"
    )
    # a tenth of NVIDIA's figure is still no reason: the recipes differ
    slow = figures.with_published_figures(_result(ips=247.0), refs)
    assert judge(slow, refs).reasons == judge(plain, refs).reasons
    assert "(0.10 of it)" in published_lines(slow)[0]
    text = render_text(result, judge(result, refs), width=100)
    assert line in text
    assert f"- {line}" in render_markdown(result, judge(result, refs))


def test_the_json_carries_the_figure_and_the_fraction_and_reads_back():
    refs = load_references()
    result = figures.with_published_figures(_result(precision="amp-bf16"), refs)
    doc = json.loads(json.dumps(to_document(result, judge(result, refs))))
    (figure,) = doc["published_figures"]
    assert figure["precision"] == "amp-fp16" and figure["images_per_second"] == 2470.0
    assert figure["source"].startswith("NVIDIA/DeepLearningExamples")
    assert [r["fraction_of_published"] for r in doc["runs"]] == [
        pytest.approx(1976 / 2470),
        None,
        None,
    ]
    assert from_dict(VerifyResult, doc).published_figures == result.published_figures


def _recorded_training() -> dict[str, Any]:
    return json.loads((H200 / "verify-train-resnet50.json").read_text(encoding="utf-8"))


def test_the_recorded_h200_training_run_has_no_published_figure_to_meet():
    # A real ResNet-50 AMP training run on an H200 (2026-12-04, batch 64, NCHW, 4 s budget):
    # NVIDIA publishes no H200 (or H100) ResNet-50 training figure, so nothing is set beside it.
    doc = _recorded_training()
    result = figures.with_published_figures(from_dict(VerifyResult, doc), load_references())
    assert result.published_figures == ()
    assert "published_figures" not in doc  # written before they existed; it still loads
    (line,) = validate.published_summary(doc)
    assert line == (
        "NVIDIA publishes no figure for NVIDIA H200 in published_training.toml; this run "
        "(torch resnet50 amp-fp16, batch 64, ?): 1,779 images/s"
    )


def test_gpu_validate_prints_the_comparison_from_the_json_verify_writes():
    refs = load_references()
    result = figures.with_published_figures(_result(), refs)
    doc = json.loads(json.dumps(to_document(result, judge(result, refs))))
    (line,) = validate.published_summary(doc)
    assert line.startswith(
        "NVIDIA publishes 2,470 images/s per GPU for this (NVIDIA A100-SXM4-80GB, torch "
        "amp-fp16, batch 256; NVIDIA/DeepLearningExamples "
    )
    assert line.endswith(
        "this run (torch resnet50 amp-fp16, batch 64, channels-last): 1,976 (0.80 of it)"
    )
    # inference runs are not training figures: nothing is said about them
    inference = dict(doc, runs=[dict(r, mode="inference") for r in doc["runs"]])
    assert validate.published_summary(inference) == []
