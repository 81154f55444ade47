"""Verify's text table, Markdown and versioned JSON, on recorded measurements."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from gpudoctor.verify.model import SCHEMA_VERSION
from gpudoctor.verify.references import load_references
from gpudoctor.verify.render import HEADERS, render_json, render_markdown, render_text, to_document
from gpudoctor.verify.verdict import judge
from tests.cli.test_machine_output import unsorted_objects
from tests.verify import factories as f


@pytest.fixture(scope="module")
def measured():
    result = f.with_run(
        f.healthy(),
        "vgg16",
        "cpu",
        "main",
        status="skipped",
        message="skipped: projected 40 s exceeds the 4 s budget",
        images_per_second=None,
    )
    return result, judge(result, load_references())


def test_text_has_a_row_per_run_with_the_figures(measured):
    result, verdict = measured
    text = render_text(result, verdict)
    lines = text.splitlines()
    assert all(h in lines[0] for h in HEADERS)
    resnet_gpu = next(
        ln for ln in lines if ln.startswith("resnet50") and "cuda:0" in ln and " 128 " in ln
    )
    assert "1,500" in resnet_gpu and "pass" in resnet_gpu
    # speedup on the common-batch GPU row: 1200 / 60 images/s
    common = next(
        ln for ln in lines if ln.startswith("resnet50") and "cuda:0" in ln and " 32 " in ln
    )
    assert "20.0x" in common
    vgg_cpu = next(ln for ln in lines if ln.startswith("vgg16") and " cpu " in ln)
    assert "skipped" in vgg_cpu
    assert "projected 40 s" in text
    assert text.rstrip().endswith("verdict: PASS")
    assert "\x1b[" not in text


def test_markdown_is_a_table_for_tickets(measured):
    result, verdict = measured
    md = render_markdown(result, verdict)
    assert md.startswith("## gpudoctor verify: PASS")
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert len(rows) == 1 + len(result.runs)
    assert "### Environment" in md


def test_json_is_versioned_and_holds_each_run(measured):
    result, verdict = measured
    text = render_json(result, verdict)
    doc = json.loads(text)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert unsorted_objects(text) == []  # its keys were in the order the code built them
    assert doc["verdict"] == "pass"
    assert {m["model"] for m in doc["models"]} == set(f.MACS)
    for run in doc["runs"]:
        for key in ("model", "framework", "device", "batch_size", "images_per_second", "verdict"):
            assert key in run
    gpu = next(
        r
        for r in doc["runs"]
        if r["model"] == "resnet50" and r["role"] == "main" and r["device"] == "cuda:0"
    )
    assert gpu["fraction_of_peak"] == pytest.approx(1500 * 2 * 4_089_000_000 / f.GPU_PEAK)
    assert gpu["telemetry"]["samples"][0]["sm_clock_mhz"] == 1410
    assert doc["settings"]["frameworks"] == ["torch"]


def test_json_has_no_nan_or_infinity(measured):
    result, _ = measured
    broken = replace(f.comparison("lenet5"), rel_error=float("inf"), max_abs_error=float("nan"))
    result = replace(result, comparisons=(broken,))
    doc = to_document(result, judge(result, load_references()))
    text = json.dumps(doc, allow_nan=False)  # raises on NaN or infinity
    assert json.loads(text)["comparisons"][0]["rel_error"] is None


@pytest.mark.parametrize("color", [False, True])
def test_text_lines_have_no_trailing_spaces(measured, color):
    result, verdict = measured
    text = render_text(result, verdict, color=color)
    assert ("\x1b[" in text) is color
    # rich pads the last column to its width; with colour the padding follows the reset code
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert [ln for ln in plain.splitlines() if ln != ln.rstrip()] == []
    (vgg_cpu,) = [ln for ln in plain.splitlines() if ln.startswith("vgg16") and " cpu " in ln]
    assert vgg_cpu.endswith("skipped")


def test_the_docs_sample_shows_skipped_rows_as_the_renderer_does(measured):
    result, verdict = measured
    (rendered,) = [
        ln
        for ln in render_text(result, verdict).splitlines()
        if ln.startswith("vgg16") and " cpu " in ln
    ]
    assert rendered.split()[-2:] == ["–", "skipped"]  # no GPU/CPU figure, verdict "skipped"
    doc = (Path(__file__).parents[2] / "docs" / "verify.md").read_text()
    sample = doc.split("$ gpudoctor verify --quick --device cpu\n", 1)[1].split("```", 1)[0]
    rows = [ln for ln in sample.splitlines() if ln.split()[:1] and ln.split()[0] in f.MACS]
    assert len(rows) == 14  # seven models, two frameworks
    assert [ln for ln in sample.splitlines() if ln != ln.rstrip()] == []
    for ln in rows:
        cells = ln.split()
        assert (cells[4] == "skipped") == (cells[-1] == "skipped"), ln
    # several CPU runs the budget skipped read as one note (verdict._skipped_summary); the
    # sample, "verbatim", still showed twelve notes alike after the renderer had grouped them
    skipped = sum(1 for ln in rows if ln.split()[2] == "cpu" and ln.split()[4] == "skipped")
    notes = [ln for ln in sample.splitlines() if ln.startswith("· note: ")]
    assert skipped >= 2
    assert [ln for ln in notes if "CPU runs skipped" in ln] == [
        ln for ln in notes if ln.startswith(f"· note: {skipped} CPU runs skipped, projected past ")
    ]
    assert len([ln for ln in notes if "CPU runs skipped" in ln]) == 1, notes
    assert not [ln for ln in notes if " cpu: skipped: projected " in ln], notes


def test_layout_datasheet_and_best_peak_are_shown_for_a_real_h200_run():
    import json
    from pathlib import Path

    from gpudoctor.model.serialize import from_dict
    from gpudoctor.verify.figures import with_datasheet_peaks
    from gpudoctor.verify.model import VerifyResult
    from gpudoctor.verify.references import load_references
    from gpudoctor.verify.render import render_text, to_document
    from gpudoctor.verify.verdict import judge

    data = Path(__file__).resolve().parents[1] / "data" / "verify" / "h200"
    doc = json.loads((data / "new-amp-fp16-auto.json").read_text(encoding="utf-8"))
    refs = load_references()
    result = with_datasheet_peaks(from_dict(VerifyResult, doc), refs)
    verdict = judge(result, refs)
    text = render_text(result, verdict)
    assert (
        "datasheet peak NVIDIA H200 amp-fp16: 989.0 TFLOP/s; the best probe reached 65% of it"
        in text
    )
    assert "layout: torch cuda:0 channels-last" in text  # --device cuda: no CPU runs
    out = to_document(result, verdict)
    run = next(r for r in out["runs"] if r["model"] == "resnet50")
    assert run["layout"] == "channels_last"
    assert run["fraction_of_datasheet_peak"] == pytest.approx(13581 * 8.18e9 / 989e12, rel=0.01)
    assert out["datasheet_peaks"][0]["source"].startswith("shared/reference/benchmarks.md")


def test_render_json_writes_any_non_finite_measure_as_null(measured):
    # Not only comparisons: a throughput or a peak a broken GPU measured as NaN.
    result, _ = measured
    runs = (replace(result.runs[0], images_per_second=float("nan")), *result.runs[1:])
    result = replace(result, runs=runs)
    text = render_json(result, judge(result, load_references()))
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["runs"][0]["images_per_second"] is None


def test_text_and_markdown_count_what_was_timed_and_what_was_skipped(measured):
    # `verify --quick` on a CPU skips most models: the table shows it row by row, and one line
    # above the verdict says how much of the run was proven (as the chart's footer does).
    result, verdict = measured
    line = "timed 13 of 14 model runs; 1 skipped (over the time budget)"  # 7 models x GPU, CPU
    text = render_text(result, verdict)
    assert line in text.splitlines()[-3]
    assert f"_{line}_" in render_markdown(result, verdict)
    nothing = replace(result, runs=(), comparisons=())
    assert "no model was run" in render_text(nothing, judge(nothing, load_references()))


def test_no_run_at_all_prints_no_empty_table(measured):
    # `verify --device cuda` with no GPU: the text began with a bare header row.
    result, _ = measured
    nothing = replace(result, runs=(), comparisons=())
    verdict = judge(nothing, load_references())
    text = render_text(nothing, verdict)
    assert HEADERS[0] not in text.splitlines()[0]
    assert "| model |" not in render_markdown(nothing, verdict)


def test_one_model_run_is_counted_in_the_singular():
    result = f.healthy(("lenet5",))
    cpu_only = replace(result, runs=tuple(r for r in result.runs if r.device == "cpu"))
    text = render_text(cpu_only, judge(cpu_only, load_references()))
    assert "timed 1 of 1 model run\n" in text


def test_a_framework_that_failed_before_reporting_claims_no_build_or_devices():
    # A TensorFlow that could not be imported read 'tensorflow ? (CPU-only build): no GPU;':
    # none of that was measured, the child never got that far.
    from gpudoctor.verify.model import FrameworkEnv

    broken = FrameworkEnv(framework="tensorflow", error="ImportError: libcudart.so.12: cannot open")
    result = replace(f.healthy(("lenet5",)), frameworks=(f.env(), broken))
    verdict = judge(result, load_references())
    for text in (render_text(result, verdict), render_markdown(result, verdict)):
        assert "tensorflow ?" not in text and "(CPU-only build): no GPU" not in text
        assert "tensorflow: failed before it reported its version, build and devices" in text
        assert "torch 2.13.0+cu128 (CUDA 12.8, cuDNN 91000): cuda:0 " in text  # the other is kept


def test_an_environment_line_without_threads_ends_cleanly():
    result = replace(f.healthy(("lenet5",)), frameworks=(f.env(cpu_threads=None),))
    text = render_text(result, judge(result, load_references()))
    line = next(x for x in text.splitlines() if x.startswith("torch 2.13.0"))
    assert not line.rstrip().endswith(";"), line


def test_without_a_gpu_run_the_tables_have_no_gpu_cpu_column():
    # `--device cpu`: every GPU/CPU cell was a dash, a column that could never say anything
    healthy = f.healthy(("lenet5", "resnet50"), device="cpu")
    result = replace(healthy, runs=tuple(r for r in healthy.runs if r.device == "cpu"))
    verdict = judge(result, load_references())
    text = render_text(result, verdict)
    header = text.splitlines()[0]
    assert "GPU/CPU" not in header and "of peak" in header and "verdict" in header
    lenet = next(ln for ln in text.splitlines() if ln.startswith("lenet5"))
    assert lenet.split()[-1] == "pass" and "–" not in lenet
    md = render_markdown(result, verdict)
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert "GPU/CPU" not in table[0]
    assert {ln.count("|") for ln in table} == {len(HEADERS)}  # one column fewer, every row
    # with a GPU run the column is there
    assert "GPU/CPU" in render_text(healthy, judge(healthy, load_references())).splitlines()[0]


def test_large_figures_read_with_their_thousands_grouped_in_text_and_markdown():
    # a long CPU run: "took 12345 s" and a budget of "3600 s" were hard to read at a glance;
    # JSON keeps the numbers as numbers
    result = replace(f.healthy(("resnet50",)), duration_s=12345.0)
    result = replace(result, settings=replace(result.settings, time_budget_s=3600.0))
    verdict = judge(result, load_references())
    for shown in (render_text(result, verdict), render_markdown(result, verdict)):
        assert "3,600 s per model and device" in shown and "took 12,345 s" in shown, shown
    doc = json.loads(render_json(result, verdict))
    assert doc["duration_s"] == 12345.0 and doc["settings"]["time_budget_s"] == 3600.0


def test_text_and_markdown_show_the_skipped_runs_summary_and_json_each_run():
    result = f.skipped_on_the_cpu(f.healthy(), {"vgg16": 16, "resnet152": 12})
    verdict = judge(result, load_references())
    text = render_text(result, verdict)
    assert "2 CPU runs skipped" in text and "--time-budget 16 runs them all" in text
    assert "raise --time-budget to 12" not in text
    md = render_markdown(result, verdict)
    assert "2 CPU runs skipped" in md and "raise --time-budget to 12" not in md
    doc = json.loads(render_json(result, verdict))
    messages = [r["message"] for r in doc["reasons"]]
    assert any("raise --time-budget to 12" in m for m in messages)
    assert {r["advised_budget_s"] for r in doc["runs"] if r["status"] == "skipped"} == {16, 12}


def test_the_outputs_line_says_no_gpu_output_was_compared_where_no_model_ran_on_one():
    # With no GPU the GPU/CPU check compared nothing; the line read 'outputs compared: torch vs
    # Keras 3' (a count that read as Keras's version) and said nothing of the GPU, and under
    # --framework torch it was missing altogether.
    healthy = f.healthy(("lenet5", "resnet50"), device="cpu")
    cpu_runs = tuple(r for r in healthy.runs if r.device == "cpu")
    parity = tuple(
        f.comparison(
            m,
            kind="torch_vs_keras",
            framework="tensorflow",
            reference="torch cpu",
            candidate="tensorflow cpu",
        )
        for m in ("lenet5", "resnet50")
    )
    both = replace(
        healthy,
        settings=replace(healthy.settings, framework="all"),
        runs=cpu_runs,
        comparisons=parity,
    )
    torch_only = replace(healthy, runs=cpu_runs, comparisons=())
    expected = {
        "both": "outputs compared: torch vs Keras on 2 models; largest difference 2.0e-06 of the "
        "logit scale (lenet5: tensorflow cpu vs torch cpu); not compared: GPU vs CPU (no model "
        "ran on a GPU)",
        "torch_only": "outputs compared: none; not compared: GPU vs CPU (no model ran on a GPU), "
        "torch vs Keras (only torch was asked for)",
    }
    for key, result in (("both", both), ("torch_only", torch_only)):
        verdict = judge(result, load_references())
        text, md = render_text(result, verdict), render_markdown(result, verdict)
        assert expected[key] in text.splitlines()
        assert f"- {expected[key]}" in md.splitlines()
    # with a GPU run: the GPU models are counted, nothing is said missing
    gpu = f.healthy(("lenet5", "resnet50"))
    text = render_text(gpu, judge(gpu, load_references()))
    line = next(ln for ln in text.splitlines() if ln.startswith("outputs compared"))
    assert line.startswith("outputs compared: GPU vs CPU on 2 models; largest difference ")
    assert "not compared" not in line


def test_a_framework_that_died_half_way_keeps_its_untimed_models_in_the_table():
    # The OOM killer stopped the torch child at AlexNet: the table listed torch's LeNet-5 and
    # then only Keras's rows, as if torch had never been asked for AlexNet (the chart and the
    # counting line said 'not run'); a build that failed left its row out too.
    from gpudoctor.verify.model import HarnessError

    models = ("lenet5", "alexnet", "resnet50")
    torch_lenet = f.run("lenet5", "cpu")
    keras = tuple(replace(f.run(m, "cpu"), framework="tensorflow") for m in models[:2])
    broken = HarnessError(
        framework="tensorflow", model="resnet50", phase="build", message="MemoryError"
    )
    base = f.healthy(models, device="cpu", framework="all")
    result = replace(base, runs=(torch_lenet, *keras), comparisons=(), errors=(broken,))
    verdict = judge(result, load_references())
    text = render_text(result, verdict)
    table = [[*ln.split()[:2], ln.split()[4]] for ln in text.splitlines()[1:7]]
    assert table == [
        ["lenet5", "torch", "50,000"],
        ["lenet5", "tensorflow", "50,000"],
        ["alexnet", "torch", "not"],  # not run
        ["alexnet", "tensorflow", "400"],
        ["resnet50", "torch", "not"],
        ["resnet50", "tensorflow", "failed"],
    ], text
    assert re.search(r"^alexnet +torch +cpu +– +not run +– +– +–$", text, re.MULTILINE), text
    assert re.search(r"^resnet50 +tensorflow +cpu +– +failed +– +– +fail$", text, re.MULTILINE)
    md = render_markdown(result, verdict)
    assert "| resnet50 | tensorflow | cpu | – | failed | – | – | fail |" in md
    assert "| alexnet | torch | cpu | – | not run | – | – | – |" in md


def test_the_outputs_line_names_the_models_keras_timed_without_a_torch_model_to_compare():
    # torch skipped GoogLeNet on the CPU (its probe read a lower matmul rate) or its child died
    # first: Keras timed it with nothing to compare, and the line counted the others alone
    models = ("lenet5", "googlenet")
    torch_lenet = f.run("lenet5", "cpu")
    keras = tuple(replace(f.run(m, "cpu"), framework="tensorflow") for m in models)
    parity = f.comparison(
        "lenet5",
        kind="torch_vs_keras",
        framework="tensorflow",
        reference="torch cpu",
        candidate="tensorflow cpu",
    )
    base = f.healthy(models, device="cpu", framework="all")
    result = replace(base, runs=(torch_lenet, *keras), comparisons=(parity,))
    text = render_text(result, judge(result, load_references()))
    line = next(ln for ln in text.splitlines() if ln.startswith("outputs compared"))
    assert line.startswith("outputs compared: torch vs Keras on 1 model; largest difference ")
    assert line.endswith(
        "; not compared: GPU vs CPU (no model ran on a GPU), torch vs Keras on googlenet (torch "
        "did not build it)"
    ), line

    # without torch the reason is that, not a build it skipped
    from gpudoctor.verify.model import FrameworkEnv

    absent = FrameworkEnv(framework="torch", installed=False)
    keras_alone = replace(result, runs=keras, comparisons=(), frameworks=(absent,))
    text = render_text(keras_alone, judge(keras_alone, load_references()))
    line = next(ln for ln in text.splitlines() if ln.startswith("outputs compared"))
    assert line == (
        "outputs compared: none; not compared: GPU vs CPU (no model ran on a GPU), torch vs "
        "Keras (torch is not installed)"
    ), line


def test_the_settings_line_names_no_gpu_budget_where_only_the_cpu_ran():
    # `verify --quick` on a laptop without a GPU: 'inference, fp32, default batches, 4 s per
    # model and GPU, 1.5 s on the CPU, quick', a GPU budget that nothing used
    healthy = f.healthy(("lenet5",), device="all", quick=True, time_budget_s=4.0)
    quick = replace(healthy, settings=replace(healthy.settings, cpu_time_budget_s=1.5))
    cpu_only = replace(quick, runs=tuple(r for r in quick.runs if r.device == "cpu"))
    text = render_text(cpu_only, judge(cpu_only, load_references()))
    assert "inference, fp32, default batches, 1.5 s per model, quick; took " in text, text
    # with a GPU run both budgets stand
    text = render_text(quick, judge(quick, load_references()))
    assert "4 s per model and GPU, 1.5 s on the CPU, quick; took " in text, text
