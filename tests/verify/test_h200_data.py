"""Verify's verdict re-run on what a real NVIDIA H200 recorded (tests/data/verify/h200)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from gpudoctor.model.serialize import from_dict
from gpudoctor.verify import figures
from gpudoctor.verify.model import VerifyResult
from gpudoctor.verify.references import load_references
from gpudoctor.verify.verdict import Level, judge

DATA = Path(__file__).resolve().parents[1] / "data" / "verify" / "h200"
EMULATED_FP16 = {"resnet152": 0.167, "resnet50": 0.026, "inception_v3": 0.052, "googlenet": 0.012}
"""fp16 rounding emulated on the CPU (rounding.py) for the same weights and inputs (2-core VM)."""


def _load(name: str) -> VerifyResult:
    doc = json.loads((DATA / name).read_text(encoding="utf-8"))
    result = from_dict(VerifyResult, doc)
    # recorded before layouts were: these runs were NCHW
    return replace(result, runs=tuple(replace(r, layout="nchw") for r in result.runs))


def _codes(verdict, level=None):  # type: ignore[no-untyped-def]
    return {r.code for r in verdict.reasons if level is None or r.level is level}


def test_the_recorded_amp_failure_is_no_longer_blamed_on_the_driver():
    result = _load("verify-amp.json")
    verdict = judge(result, load_references())
    mismatch = [r for r in verdict.reasons if r.code == "output_mismatch"]
    # the recording has no rounding figure: the 0.18 is a warning that says how to tell
    assert [(r.model, r.level) for r in mismatch] == [("resnet152", Level.WARN)]
    assert verdict.overall == "warn"


def test_with_the_rounding_figures_the_amp_run_compares_clean():
    result = _load("verify-amp.json")
    comparisons = tuple(
        replace(c, rounding_error=EMULATED_FP16.get(c.model, 1e-3)) for c in result.comparisons
    )
    verdict = judge(replace(result, comparisons=comparisons), load_references())
    assert not _codes(verdict) & {"output_mismatch", "top1_mismatch", "output_not_finite"}


@pytest.mark.parametrize("corrupt", [0.0, -1.0])
def test_corrupted_resnet152_logits_on_the_h200_still_fail(corrupt):
    # The error a fault gives: zero logits differ by 1.0 of the scale, negated ones by 2.0.
    result = _load("verify-amp.json")
    rel = 1.0 if corrupt == 0.0 else 2.0
    comparisons = tuple(
        replace(c, rel_error=rel, rounding_error=0.167) if c.model == "resnet152" else c
        for c in result.comparisons
    )
    verdict = judge(replace(result, comparisons=comparisons), load_references())
    assert "output_mismatch" in _codes(verdict, Level.FAIL)


@pytest.mark.parametrize("name", ["verify-fp32.json", "verify-amp.json"])
def test_the_h200_runs_meet_the_expected_figures_recorded_from_them(name):
    result = _load(name)
    verdict = judge(result, load_references())
    assert "below_expected" not in _codes(verdict)
    refs = load_references()
    gpu_runs = [r for r in result.runs if r.device != "cpu" and r.role == "main"]
    rows = [e for e in refs.expected if e.gpu == "NVIDIA H200"]
    for run in gpu_runs:
        assert any(
            (e.model, e.precision, e.batch_size, e.layout)
            == (run.model, run.precision, run.batch_size, "nchw")
            and e.images_per_second == pytest.approx(run.images_per_second, abs=0.06)
            for e in rows
        ), run.model


def test_a_slow_h200_is_told_so_by_the_expected_figures():
    result = _load("verify-fp32.json")
    slow = tuple(
        replace(r, images_per_second=r.images_per_second * 0.3)
        if r.model == "resnet50" and r.role == "main" and r.device != "cpu"
        else r
        for r in result.runs
    )
    verdict = judge(replace(result, runs=slow), load_references())
    reason = next(r for r in verdict.reasons if r.code == "below_expected")
    assert reason.model == "resnet50" and reason.level is Level.WARN  # rows unverified: warn
    assert "NVIDIA H200 at batch 128, nchw" in reason.message


def test_another_layout_is_not_judged_against_the_nchw_figures():
    result = _load("verify-amp.json")
    # the NCHW speed of the first session is not "slow" for channels-last, nor judged by NCHW rows
    refs = load_references()
    cl = tuple(replace(r, layout="channels_last") for r in result.runs)
    verdict = judge(replace(result, runs=cl), refs)
    slow = {r.model for r in verdict.reasons if r.code == "below_expected"}
    assert "resnet50" not in slow  # 9,972 vs 13,581 channels-last: 73 %
    other = tuple(replace(r, layout="nhwc", images_per_second=1.0) for r in result.runs)
    assert "below_expected" not in _codes(judge(replace(result, runs=other), refs))


def test_the_datasheet_fraction_of_the_h200():
    result = figures.with_datasheet_peaks(_load("verify-amp.json"), load_references())
    (sheet,) = result.datasheet_peaks
    assert (sheet.gpu, sheet.precision, sheet.flops) == ("NVIDIA H200", "amp-fp16", 989e12)
    run = next(r for r in result.runs if r.model == "resnet50")
    # 9,972 img/s x 8.18 GFLOP = 81.6 TFLOP/s: 8 % of the datasheet's 989
    assert figures.fraction_of_datasheet(result, run) == pytest.approx(0.0825, abs=0.002)
    # the best probe reached 651 TFLOP/s: 66 % of the datasheet figure
    best = max(p.flops for p in result.peaks if p.device == "cuda:0")
    assert best / sheet.flops == pytest.approx(0.658, abs=0.002)


NEW_RUNS = ["new-amp-fp16-auto.json", "new-amp-fp16-nchw.json", "new-amp-bf16-auto.json",
            "new-fp32-auto.json", "new-tf32-auto.json"]  # fmt: skip


@pytest.mark.parametrize("name", NEW_RUNS)
def test_the_h200_runs_with_the_rounding_figures_show_no_false_alarm(name):
    doc = json.loads((DATA / name).read_text(encoding="utf-8"))
    result = from_dict(VerifyResult, doc)
    verdict = judge(result, load_references())
    assert verdict.overall in ("pass", "warn")
    assert not _codes(verdict, Level.FAIL)
    assert not _codes(verdict) & {"output_mismatch", "top1_mismatch", "fingerprint"}
    for c in result.comparisons:
        if c.precision != "fp32":
            # the GPU's difference and the emulated rounding agree: within 25 % where rounding
            # matters (above 1 % of the logit scale), within 2x on the shallow networks
            assert c.rounding_error is not None
            ratio = c.rel_error / c.rounding_error
            assert (0.75 < ratio < 1.25) if c.rounding_error > 0.01 else (0.5 < ratio < 2)


def test_the_old_fixed_limits_would_have_failed_these_healthy_runs():
    from gpudoctor.verify.verdict import REL_TOLERANCE

    failed = set()
    for name in NEW_RUNS:
        doc = json.loads((DATA / name).read_text(encoding="utf-8"))
        for c in from_dict(VerifyResult, doc).comparisons:
            if c.rel_error > REL_TOLERANCE[c.precision]:
                failed.add((c.model, c.precision))
    assert failed == {("resnet152", "amp-fp16"), ("resnet152", "amp-bf16"),
                      ("resnet152", "tf32")}  # fmt: skip


def test_channels_last_runs_are_recorded_and_faster_under_amp():
    def ips(name: str) -> dict[str, float]:
        doc = json.loads((DATA / name).read_text(encoding="utf-8"))
        return {r["model"]: r["images_per_second"] for r in doc["runs"] if r["role"] == "main"}

    cl, nchw = ips("new-amp-fp16-auto.json"), ips("new-amp-fp16-nchw.json")
    layouts = {
        r["layout"] for r in json.loads((DATA / "new-amp-fp16-auto.json").read_text())["runs"]
    }
    assert layouts == {"channels_last"}
    for model in ("alexnet", "vgg16", "googlenet", "inception_v3", "resnet50", "resnet152"):
        assert cl[model] > 1.1 * nchw[model], model
