"""The verdict rules on recorded measurements: root causes fail whatever the speed, then speed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gpudoctor.verify.model import FrameworkEnv, Settings, VerifyResult
from gpudoctor.verify.references import Expected, References, load_references
from gpudoctor.verify.verdict import Level, judge
from tests.verify import factories as f


@pytest.fixture(scope="module")
def refs() -> References:
    return load_references()


def codes(verdict, level: Level | None = None) -> set[str]:
    return {r.code for r in verdict.reasons if level is None or r.level is level}


def test_a_healthy_machine_passes_with_every_model_passing(refs):
    verdict = judge(f.healthy(), refs)
    assert verdict.overall == "pass", verdict.reasons
    assert dict(verdict.models) == dict.fromkeys(f.MACS, "pass")
    assert not [r for r in verdict.reasons if r.level is not Level.NOTE]


def test_throttling_in_many_samples_fails_the_model(refs):
    hot = [f.sample(i * 0.1, clock_event_reasons=0x40 | 0x4, temperature_c=91) for i in range(6)]
    cool = [f.sample(i * 0.1) for i in range(6, 20)]
    result = f.with_run(
        f.healthy(), "resnet50", "cuda:0", "main", telemetry=f.telemetry(hot + cool)
    )
    verdict = judge(result, refs)
    assert verdict.overall == "fail"
    assert dict(verdict.models)["resnet50"] == "fail"
    assert dict(verdict.models)["vgg16"] == "pass"
    reason = next(r for r in verdict.reasons if r.code == "hw_slowdown")
    assert "HW thermal slowdown" in reason.message and "30%" in reason.message
    assert "91 °C" in reason.message


def test_a_single_slowdown_sample_at_a_clock_change_is_tolerated(refs):
    samples = [f.sample(0.0, clock_event_reasons=0x8)] + [f.sample(i * 0.1) for i in range(1, 20)]
    result = f.with_run(f.healthy(), "resnet50", "cuda:0", "main", telemetry=f.telemetry(samples))
    assert "hw_slowdown" not in codes(judge(result, refs))


@pytest.mark.parametrize("bit", [0x8, 0x40, 0x80])
def test_each_hardware_slowdown_bit_fails(refs, bit):
    samples = [f.sample(i * 0.1, clock_event_reasons=bit if i < 5 else 0) for i in range(20)]
    result = f.with_run(f.healthy(), "resnet50", "cuda:0", "main", telemetry=f.telemetry(samples))
    verdict = judge(result, refs)
    assert "hw_slowdown" in codes(verdict, Level.FAIL)
    assert "sw_thermal_slowdown" not in codes(verdict)


def test_sw_thermal_slowdown_warns_and_does_not_fail(refs):
    samples = [
        f.sample(i * 0.1, clock_event_reasons=0x20 if i < 6 else 0, temperature_c=84)
        for i in range(20)
    ]
    result = f.with_run(f.healthy(), "resnet50", "cuda:0", "main", telemetry=f.telemetry(samples))
    verdict = judge(result, refs)
    assert verdict.overall == "warn", verdict.reasons
    assert dict(verdict.models)["resnet50"] == "warn"
    reason = next(r for r in verdict.reasons if r.code == "sw_thermal_slowdown")
    assert reason.level is Level.WARN
    assert "SW thermal slowdown" in reason.message and "30%" in reason.message
    assert "84 °C" in reason.message
    assert "hw_slowdown" not in codes(verdict)


def test_sw_thermal_with_hw_slowdown_still_fails(refs):
    samples = [f.sample(i * 0.1, clock_event_reasons=0x20 | 0x8) for i in range(20)]
    result = f.with_run(f.healthy(), "resnet50", "cuda:0", "main", telemetry=f.telemetry(samples))
    verdict = judge(result, refs)
    assert codes(verdict, Level.FAIL) == {"hw_slowdown"}
    assert "sw_thermal_slowdown" in codes(verdict, Level.WARN)
    fail = next(r for r in verdict.reasons if r.code == "hw_slowdown")
    assert "HW slowdown" in fail.message and "SW thermal" not in fail.message


def test_the_hardware_slowdown_bits_are_a_subset_that_leaves_sw_thermal_out():
    from gpudoctor.model.clock_events import HW_SLOWDOWNS, SLOWDOWNS, ClockEvent

    assert {int(bit) for bit in HW_SLOWDOWNS} == {0x8, 0x40, 0x80}
    assert ClockEvent.SW_THERMAL_SLOWDOWN in SLOWDOWNS  # check's rules still see it
    assert all(SLOWDOWNS[bit] == text for bit, text in HW_SLOWDOWNS.items())


def test_a_downtrained_link_under_load_fails(refs):
    samples = [f.sample(i * 0.1, pcie_gen=1, pcie_width=8) for i in range(20)]
    result = f.with_run(f.healthy(), "vgg16", "cuda:0", "main", telemetry=f.telemetry(samples))
    verdict = judge(result, refs)
    assert verdict.overall == "fail"
    reason = next(r for r in verdict.reasons if r.code == "pcie_downtrained")
    assert reason.model == "vgg16"
    assert "Gen1 x8" in reason.message and "Gen4 x16" in reason.message


def test_a_link_that_idles_low_but_trains_up_under_load_passes(refs):
    # NVIDIA GPUs drop the link generation when idle on purpose: only loaded samples count.
    idle = [f.sample(i * 0.1, pcie_gen=1, utilization_pct=0) for i in range(5)]
    busy = [f.sample(i * 0.1) for i in range(5, 20)]
    result = f.with_run(f.healthy(), "vgg16", "cuda:0", "main", telemetry=f.telemetry(idle + busy))
    assert "pcie_downtrained" not in codes(judge(result, refs))


def test_a_slot_that_limits_the_link_only_warns(refs):
    t = f.telemetry(
        [f.sample(i * 0.1, pcie_gen=3) for i in range(20)], max_pcie_gen=3, gpu_max_pcie_gen=4
    )
    verdict = judge(f.with_run(f.healthy(), "vgg16", "cuda:0", "main", telemetry=t), refs)
    assert verdict.overall == "warn"
    assert codes(verdict, Level.WARN) == {"pcie_slot_limited"}


def test_low_clocks_without_slowdown_bits_warn(refs):
    samples = [f.sample(i * 0.1, sm_clock_mhz=900, clock_event_reasons=0x4) for i in range(20)]
    result = f.with_run(f.healthy(), "resnet50", "cuda:0", "main", telemetry=f.telemetry(samples))
    verdict = judge(result, refs)
    assert verdict.overall == "warn"
    assert "low_clock" in codes(verdict, Level.WARN)


def test_no_nvml_is_a_note_not_a_failure(refs):
    t = f.telemetry([], available=False, message="NVML unavailable: driver not loaded")
    verdict = judge(f.with_run(f.healthy(), "resnet50", "cuda:0", "main", telemetry=t), refs)
    assert verdict.overall == "pass"
    note = next(r for r in verdict.reasons if r.code == "no_telemetry")
    assert note.level is Level.NOTE and "driver not loaded" in note.message


def test_gpu_output_that_differs_from_the_cpu_fails_the_model(refs):
    bad = f.comparison("resnet152", rel_error=0.4, max_abs_error=3.0)
    result = f.healthy()
    result = replace(
        result, comparisons=tuple(bad if c.model == "resnet152" else c for c in result.comparisons)
    )
    verdict = judge(result, refs)
    assert dict(verdict.models)["resnet152"] == "fail"
    assert "output_mismatch" in codes(verdict, Level.FAIL)


def test_nan_logits_fail(refs):
    result = replace(f.healthy(("lenet5",)), comparisons=(f.comparison("lenet5", finite=False),))
    assert "output_not_finite" in codes(judge(result, refs), Level.FAIL)


def test_amp_tolerates_small_errors_but_not_a_clear_top1_flip(refs):
    loose = f.comparison("resnet50", precision="amp-bf16", rel_error=0.03)
    flipped = replace(loose, top1_agree=(True, False, True, True), rel_margins=(0.1, 0.5, 0.1, 0.1))
    close_call = replace(
        loose, top1_agree=(True, False, True, True), rel_margins=(0.1, 0.01, 0.1, 0.1)
    )
    base = f.healthy(("resnet50",))
    assert judge(replace(base, comparisons=(loose,)), refs).overall == "pass"
    assert judge(replace(base, comparisons=(close_call,)), refs).overall == "pass"
    verdict = judge(replace(base, comparisons=(flipped,)), refs)
    assert codes(verdict, Level.FAIL) == {"top1_mismatch"}
    # fp32 holds the logits to a much tighter bound
    strict = replace(loose, precision="fp32")
    assert "output_mismatch" in codes(judge(replace(base, comparisons=(strict,)), refs))


def _env_only(env: FrameworkEnv, device: str = "all") -> VerifyResult:
    cpu = f.run("lenet5", "cpu")
    return VerifyResult(
        settings=Settings(models=("lenet5",), framework="torch", device=device),
        frameworks=(env,),
        runs=(cpu,),
    )


def test_a_cpu_only_build_on_a_gpu_machine_fails_whatever_the_speed(refs):
    env = f.env(
        version="2.13.0+cpu", cuda_build=False, cuda_version=None, cudnn_enabled=False, gpus=()
    )
    verdict = judge(_env_only(env), refs)
    assert verdict.overall == "fail"
    reason = next(r for r in verdict.reasons if r.code == "cpu_only_build")
    assert "CPU-only build" in reason.message and "gpudoctor check" in reason.message
    # the same build verifying the CPU alone is fine
    assert judge(_env_only(env, device="cpu"), refs).overall == "pass"


def test_no_gpu_at_all_fails_with_the_reason_and_a_pointer_to_check(refs):
    env = f.env(
        version="2.13.0+cpu",
        cuda_build=False,
        gpus=(),
        nvml_gpu_count=None,
        nvml_error="NVML Shared Library Not Found",
    )
    verdict = judge(_env_only(env), refs)
    reason = next(r for r in verdict.reasons if r.code == "no_gpu")
    assert reason.level is Level.FAIL
    assert "NVML Shared Library Not Found" in reason.message
    assert "gpudoctor check" in reason.message


@pytest.mark.parametrize(
    ("env", "code"),
    [
        (f.env(version="2.13.0+cpu", cuda_build=False, gpus=(), nvml_gpu_count=0), "no_gpu"),
        (
            f.env(version="2.13.0+cpu", cuda_build=False, gpus=(), nvml_gpu_count=1),
            "cpu_only_build",
        ),
    ],
)
def test_without_a_gpu_the_default_device_says_how_to_verify_the_cpu_alone(refs, env, code):
    hint = "`gpudoctor verify --device cpu` verifies the CPU alone"
    (default,) = [r for r in judge(_env_only(env), refs).reasons if r.code == code]
    assert hint in default.message and "gpudoctor check" in default.message
    # asking for a GPU by name is asking for a GPU: no CPU-only advice then
    (cuda,) = [r for r in judge(_env_only(env, device="cuda"), refs).reasons if r.code == code]
    assert hint not in cuda.message and "gpudoctor check" in cuda.message


@pytest.mark.parametrize("precision", ["tf32", "amp-fp16", "amp-bf16"])
def test_a_gpu_precision_with_no_gpu_run_says_nothing_ran_in_it(refs, precision):
    cpu_only = f.healthy(("resnet50",), device="cpu", precision=precision)
    cpu_only = replace(cpu_only, runs=tuple(r for r in cpu_only.runs if r.device == "cpu"))
    (note,) = [r for r in judge(cpu_only, refs).reasons if r.code == "precision_not_run"]
    assert note.level is Level.NOTE
    assert f"--precision {precision} applies to GPU runs only" in note.message
    assert f"nothing here ran in {precision}" in note.message
    assert judge(cpu_only, refs).overall == "pass"  # a note, not a warning
    # with a GPU run in that precision, or in fp32, there is nothing to say
    with_gpu = f.healthy(("resnet50",), precision=precision)
    assert not [r for r in judge(with_gpu, refs).reasons if r.code == "precision_not_run"]
    fp32 = replace(cpu_only, settings=replace(cpu_only.settings, precision="fp32"))
    assert not [r for r in judge(fp32, refs).reasons if r.code == "precision_not_run"]


def _keras_only(result: VerifyResult) -> VerifyResult:
    """``result`` as if only Keras had run: every run and environment relabelled tensorflow."""
    return replace(
        result,
        frameworks=tuple(replace(e, framework="tensorflow") for e in result.frameworks),
        runs=tuple(replace(r, framework="tensorflow", layout="nhwc") for r in result.runs),
    )


@pytest.mark.parametrize("layout", ["nchw", "channels-last"])
def test_a_layout_asked_where_no_pytorch_model_ran_says_so(refs, layout):
    # `--framework tensorflow --layout nchw` ran Keras (always NHWC) and said nothing of the
    # layout the user asked for: they read the figures as measured in NCHW
    keras = _keras_only(f.healthy(("resnet50",), framework="tensorflow", layout=layout))
    (note,) = [r for r in judge(keras, refs).reasons if r.code == "layout_not_run"]
    assert note.level is Level.NOTE
    assert f"--layout {layout} sets PyTorch's memory layout" in note.message
    assert "--framework tensorflow runs Keras alone" in note.message
    assert "always channels-last (NHWC)" in note.message
    assert judge(keras, refs).overall == "pass"  # a note, not a warning
    # --framework all where torch ran nothing (not installed): the same note, its own reason
    missing = replace(keras, settings=replace(keras.settings, framework="all"))
    (note,) = [r for r in judge(missing, refs).reasons if r.code == "layout_not_run"]
    assert "no PyTorch model was timed" in note.message


def test_a_layout_pytorch_used_or_the_default_needs_no_note(refs):
    torch = f.healthy(("resnet50",), layout="nchw")
    assert "layout_not_run" not in codes(judge(torch, refs))
    auto = _keras_only(f.healthy(("resnet50",), framework="tensorflow"))
    assert "layout_not_run" not in codes(judge(auto, refs))


def test_device_cpu_without_a_gpu_has_no_no_gpu_found_note(refs):
    # --device cpu asked for the CPU alone: "no GPU found ... --device cpu asks for exactly
    # that" would tell the user to run what they ran
    env = f.env(version="2.13.0+cpu", cuda_build=False, gpus=(), nvml_gpu_count=0)
    result = _env_only(env, device="cpu")
    result = replace(result, settings=replace(result.settings, gpu_required=False))
    codes = {r.code for r in judge(result, refs).reasons}
    assert not codes & {"no_gpu_found", "no_gpu", "cpu_only_build"}


def test_cudnn_not_used_fails(refs):
    result = replace(f.healthy(), frameworks=(f.env(cudnn_enabled=False),))
    assert "cudnn_not_used" in codes(judge(result, refs), Level.FAIL)


def test_an_oom_back_off_is_recorded_and_still_passes(refs):
    result = f.with_run(
        f.healthy(("resnet152",)),
        "resnet152",
        "cuda:0",
        "main",
        batch_size=32,
        requested_batch_size=64,
        oom_batch_sizes=(64,),
    )
    verdict = judge(result, refs)
    assert verdict.overall == "pass"
    note = next(r for r in verdict.reasons if r.code == "oom_backoff")
    assert "batch 64" in note.message and "batch 32" in note.message


def test_a_gpu_barely_faster_than_the_cpu_fails_for_resnet50_but_not_for_lenet5(refs):
    result = f.with_run(f.healthy(), "resnet50", "cuda:0", "common", images_per_second=120.0)
    result = f.with_run(result, "lenet5", "cuda:0", "common", images_per_second=25_000.0)
    verdict = judge(result, refs)
    slow = [r for r in verdict.reasons if r.code == "slow_gpu"]
    assert [r.model for r in slow] == ["resnet50"]
    assert "2.0x" in slow[0].message
    assert dict(verdict.models)["lenet5"] == "pass"


def test_the_speedup_is_not_judged_below_batch_32(refs):
    result = f.with_run(
        f.healthy(("resnet50",)),
        "resnet50",
        "cuda:0",
        "common",
        batch_size=8,
        images_per_second=100.0,
    )
    result = f.with_run(result, "resnet50", "cpu", "main", batch_size=8)
    verdict = judge(result, refs)
    assert verdict.overall == "pass"
    assert "speedup_small_batch" in codes(verdict, Level.NOTE)


def test_a_model_off_the_cross_model_fingerprint_warns(refs):
    # GoogLeNet at a third of its usual speed relative to ResNet-50 (and still inside its band)
    result = f.with_run(f.healthy(), "googlenet", "cuda:0", "main", images_per_second=1_000.0)
    verdict = judge(result, refs)
    assert dict(verdict.models)["googlenet"] == "warn"
    assert [r.model for r in verdict.reasons if r.code == "fingerprint"] == ["googlenet"]


def test_far_below_the_fraction_of_peak_band_warns_while_the_band_is_unverified(refs):
    result = f.with_run(
        f.healthy(("resnet50",)), "resnet50", "cuda:0", "main", images_per_second=150.0
    )
    verdict = judge(result, refs)
    assert "below_band" in codes(verdict, Level.WARN)
    assert verdict.overall == "warn"


def test_expected_figures_for_a_gpu_model_judge_its_runs(refs):
    row = Expected(
        gpu=f.GPU_NAME,
        framework="torch",
        model="resnet50",
        mode="inference",
        precision="fp32",
        batch_size=128,
        images_per_second=5_000.0,
        verified=True,
        source="test row",
    )
    with_row = replace(refs, expected=(row,))
    verdict = judge(f.healthy(("resnet50",)), with_row)  # 1500 of 5000 expected: 30 %
    assert "below_expected" in codes(verdict, Level.FAIL)
    # "of the 5000 images/s expected": a large figure reads with its thousands grouped
    (below,) = [r for r in verdict.reasons if r.code == "below_expected"]
    assert "of the 5,000 images/s expected" in below.message, below.message
    assert judge(f.healthy(("resnet50",)), refs).overall == "pass"


def test_skips_and_noise_are_reported(refs):
    result = f.with_run(
        f.healthy(("vgg16",)),
        "vgg16",
        "cpu",
        "main",
        status="skipped",
        message="skipped: projected 40 s exceeds the 4 s budget",
        images_per_second=None,
    )
    result = f.with_run(result, "vgg16", "cuda:0", "main", spread=0.3)
    verdict = judge(result, refs)
    assert "skipped" in codes(verdict, Level.NOTE)
    assert "noisy" in codes(verdict, Level.WARN)


def test_a_missing_framework_is_a_note_beside_a_verified_one_and_fails_when_asked_for(refs):
    # the README installs PyTorch alone before `verify --quick`: it was WARN for TensorFlow's
    # absence, which check calls information ('not a fault', GD-TF-001)
    missing = FrameworkEnv(framework="tensorflow", installed=False)
    base = f.healthy(("lenet5",))
    both = replace(
        base,
        settings=replace(base.settings, framework="all"),
        frameworks=(*base.frameworks, missing),
    )
    verdict = judge(both, refs)
    assert verdict.overall == "pass"
    (reason,) = [r for r in verdict.reasons if r.code == "framework_missing"]
    assert reason.level.value == "note" and reason.framework == "tensorflow"
    only = replace(
        base,
        settings=replace(base.settings, framework="tensorflow"),
        frameworks=(missing,),
        runs=(),
    )
    assert judge(only, refs).overall == "fail"


def test_no_framework_at_all_fails_even_under_all(refs):
    base = f.healthy(("lenet5",))
    nothing = replace(
        base,
        settings=replace(base.settings, framework="all"),
        frameworks=(
            FrameworkEnv(framework="torch", installed=False),
            FrameworkEnv(framework="tensorflow", installed=False),
        ),
        runs=(),
        comparisons=(),
    )
    verdict = judge(nothing, refs)
    assert verdict.overall == "fail"
    assert "nothing_installed" in codes(verdict, Level.FAIL)


def test_one_framework_asked_for_and_missing_does_not_say_none_is_installed(refs):
    # `verify --framework tensorflow` without TensorFlow, beside a working torch, said "no
    # framework is installed here": torch was never looked at.
    base = f.healthy(("lenet5",))
    missing = replace(
        base,
        settings=replace(base.settings, framework="tensorflow"),
        frameworks=(FrameworkEnv(framework="tensorflow", installed=False),),
        runs=(),
        comparisons=(),
    )
    verdict = judge(missing, refs)
    assert verdict.overall == "fail"
    messages = " ".join(r.message for r in verdict.reasons)
    assert "no framework is installed" not in messages
    assert "--framework tensorflow asked for tensorflow alone" in messages


def test_a_crashed_child_fails(refs):
    crashed = f.env(error="timed out after 900 s")
    result = replace(f.healthy(("lenet5",)), frameworks=(crashed,))
    assert "run_failed" in codes(judge(result, refs), Level.FAIL)


def test_a_skipped_row_reads_skipped_not_pass(refs):
    result = f.with_run(
        f.healthy(("vgg16",)),
        "vgg16",
        "cpu",
        "main",
        status="skipped",
        message="skipped: projected 40 s exceeds the 4 s budget",
        images_per_second=None,
    )
    verdict = judge(result, refs)
    by_device = {run.device: verdict.for_run(run) for run in result.runs}
    assert by_device["cpu"] == "skipped"
    assert by_device["cuda:0"] == "pass"
    assert dict(verdict.models)["vgg16"] == "pass"  # its GPU runs were timed


def test_a_model_none_of_whose_runs_was_timed_reads_skipped_not_pass(refs):
    # `verify --quick` on a CPU: the budget skipped VGG-16 and no GPU was there to run it.
    base = f.healthy(("lenet5", "vgg16"))
    skipped = {"status": "skipped", "message": "skipped: projected 40 s", "images_per_second": None}
    runs = tuple(
        r if r.model == "lenet5" else replace(r, **skipped)  # type: ignore[arg-type]
        for r in base.runs
        if r.model == "lenet5" or r.device == "cpu"
    )
    verdict = judge(replace(base, runs=runs), refs)
    assert dict(verdict.models) == {"lenet5": "pass", "vgg16": "skipped"}
    # and with no run at all (no GPU, `--device cuda`), no model reads pass either
    nothing = judge(replace(base, runs=(), comparisons=()), refs)
    assert set(dict(nothing.models).values()) == {"skipped"}


def test_a_framework_version_the_harness_cannot_drive_warns_and_does_not_fail(refs):
    limit = (
        "verify's Keras side needs Keras 3 (TensorFlow >= 2.16); TensorFlow 2.14.1 "
        "(Keras 2.14.0) was not verified"
    )
    old_tf = f.env(framework="tensorflow", version="2.14.1", unsupported=limit)
    base = f.healthy(("lenet5",))
    both = replace(
        base,
        settings=replace(base.settings, framework="all"),
        frameworks=(*base.frameworks, old_tf),
    )
    verdict = judge(both, refs)
    assert verdict.overall == "warn", verdict.reasons
    reason = next(r for r in verdict.reasons if r.code == "not_verifiable")
    assert (reason.level, reason.framework, reason.message) == (Level.WARN, "tensorflow", limit)
    assert "run_failed" not in codes(verdict)
    # a GPU this build cannot see is still the install's fault, whatever the harness supports
    blind = replace(old_tf, cuda_build=False, gpus=())
    assert "cpu_only_build" in codes(judge(replace(both, frameworks=(blind,)), refs), Level.FAIL)


def test_a_set_up_warning_from_the_child_warns(refs):
    note = "TensorFlow GPU memory growth could not be set on GPU:0: already initialized"
    result = replace(f.healthy(("lenet5",)), frameworks=(f.env(warnings=(note,)),))
    verdict = judge(result, refs)
    assert verdict.overall == "warn"
    (reason,) = [r for r in verdict.reasons if r.code == "setup_warning"]
    assert reason.message == note and reason.level is Level.WARN


# --- TF32/AMP: judged against the rounding the precision alone gives --------------------------
# Real figures, NVIDIA H200, torch 2.11.0+cu130, `verify --quick --precision amp-fp16`
# (2026-12-04): GPU vs CPU rel_error per model, and the top-1 flip on ResNet-152's third input
# (reference margin 0.027). Emulated fp16 rounding on the CPU (rounding.py, this VM) gave
# 0.167 / 0.026 / 0.052 / 0.012 for the same weights and inputs.
H200_AMP_FP16 = {
    "resnet152": (0.18051448840286496, 0.167),
    "resnet50": (0.028149529728938874, 0.026),
    "inception_v3": (0.048243041617070936, 0.052),
    "googlenet": (0.01242203418783053, 0.012),
}


def _amp(model: str, rel: float, rounding: float | None, **changes: object) -> VerifyResult:
    c = f.comparison(model, precision="amp-fp16", rel_error=rel, rounding_error=rounding, **changes)
    return replace(f.healthy((model,)), comparisons=(c,))


@pytest.mark.parametrize("model", sorted(H200_AMP_FP16))
def test_the_real_h200_fp16_differences_are_rounding_not_faults(refs, model):
    rel, rounding = H200_AMP_FP16[model]
    flips = {"top1_agree": (True, True, False, True), "rel_margins": (0.056, 0.057, 0.027, 0.01)}
    verdict = judge(_amp(model, rel, rounding, **flips), refs)
    assert not codes(verdict) & {"output_mismatch", "top1_mismatch"}, verdict.reasons


def test_the_false_alarm_the_fixed_limit_raised_on_the_h200(refs):
    # Without the rounding figure the old fixed limit (0.1) is all there is: no longer a failure
    # that blames the driver, a warning that says what would tell rounding from a fault.
    verdict = judge(_amp("resnet152", 0.18051448840286496, None), refs)
    reason = next(r for r in verdict.reasons if r.code == "output_mismatch")
    assert reason.level is Level.WARN
    assert "rounding" in reason.message and "--framework all" in reason.message


@pytest.mark.parametrize(
    ("rel", "what"),
    [
        (1.0, "all-zero logits"),
        (1.7, "logits of another network (random)"),
        (0.9, "a kernel that drops half the signal"),
        (0.55, "a fault just past three times the rounding"),
    ],
)
def test_corrupted_gpu_outputs_still_fail_on_the_deepest_network(refs, rel, what):
    rounding = H200_AMP_FP16["resnet152"][1]
    verdict = judge(_amp("resnet152", rel, rounding), refs)
    reason = next(r for r in verdict.reasons if r.code == "output_mismatch")
    assert reason.level is Level.FAIL, what
    assert "3 x the 0.17" in reason.message and "memory errors" in reason.message


def test_without_a_rounding_figure_only_small_differences_may_be_rounding(refs):
    assert "output_mismatch" in codes(judge(_amp("resnet152", 0.6, None), refs), Level.FAIL)
    assert "output_mismatch" in codes(judge(_amp("resnet152", 0.3, None), refs), Level.WARN)


def test_a_clear_top1_flip_still_fails_under_amp(refs):
    flips = {"top1_agree": (False, True, True, True), "rel_margins": (0.9, 0.1, 0.1, 0.1)}
    verdict = judge(_amp("resnet50", 0.03, 0.026, **flips), refs)
    assert "top1_mismatch" in codes(verdict, Level.FAIL)


def test_fp32_ignores_any_rounding_figure(refs):
    c = f.comparison("resnet50", rel_error=0.02, rounding_error=0.5)
    result = replace(f.healthy(("resnet50",)), comparisons=(c,))
    assert "output_mismatch" in codes(judge(result, refs), Level.FAIL)


def test_the_tolerance_is_the_floor_or_three_times_the_rounding():
    from gpudoctor.verify.verdict import tolerance

    base = f.comparison("resnet50", precision="amp-fp16")
    assert tolerance(base) == 0.1
    assert tolerance(replace(base, rounding_error=0.01)) == 0.1
    assert tolerance(replace(base, rounding_error=0.167)) == pytest.approx(0.501)
    assert tolerance(replace(base, precision="fp32", rounding_error=0.167)) == 5e-3


# --- the peak: the best any probe reached on the device ------------------------------------------


def test_the_peak_is_the_best_rate_any_framework_s_probe_reached():
    from gpudoctor.verify import figures
    from gpudoctor.verify.model import Peak

    # the 2-core VM: torch's matmul 210 GFLOP/s, TensorFlow's 377 on the same cores
    result = f.healthy(("alexnet",))
    peaks = (
        Peak(framework="torch", device="cpu", precision="fp32", flops=210e9),
        Peak(framework="tensorflow", device="cpu", precision="fp32", flops=377e9),
        *[p for p in result.peaks if p.device != "cpu"],
    )
    result = replace(result, peaks=peaks)
    cpu = next(r for r in result.runs if r.device == "cpu")
    assert figures.peak_for(result, cpu) == 377e9
    tf_cpu = replace(cpu, framework="tensorflow")
    assert figures.peak_for(result, tf_cpu) == 377e9


def test_a_run_above_the_peak_is_said_to_be_noise(refs):
    from gpudoctor.verify.model import Peak

    result = f.healthy(("alexnet",))
    cpu = next(r for r in result.runs if r.device == "cpu")
    low = Peak(framework="torch", device="cpu", precision="fp32", flops=cpu.flops_per_image * 100)
    runs = tuple(replace(r, images_per_second=125.0) if r is cpu else r for r in result.runs)
    result = replace(
        result, runs=runs, peaks=(low, *[p for p in result.peaks if p.device != "cpu"])
    )
    verdict = judge(result, refs)
    note = next(r for r in verdict.reasons if r.code == "above_peak" and r.device == "cpu")
    assert note.level is Level.NOTE and "125%" in note.message and "noise" in note.message
    assert verdict.overall == "pass"


NO_DRIVER = {"nvml_gpu_count": None, "nvml_error": "NVML Shared Library Not Found"}


@pytest.mark.parametrize("nvml", [NO_DRIVER, {"nvml_gpu_count": 0}])
def test_quick_without_a_device_on_a_machine_without_a_gpu_verifies_the_cpu(refs, nvml):
    env = f.env(version="2.13.0+cpu", cuda_build=False, cuda_version=None, gpus=(), **nvml)
    result = _env_only(env)
    result = replace(result, settings=replace(result.settings, quick=True, gpu_required=False))
    verdict = judge(result, refs)
    assert verdict.overall == "pass"
    (note,) = [r for r in verdict.reasons if r.code == "no_gpu_found"]
    assert note.level is Level.NOTE and "no GPU found" in note.message
    assert "on the CPU only" in note.message


def test_frameworks_that_found_no_gpu_for_one_reason_share_one_note(refs):
    # two notes, the same but for the framework's name, on every machine without a GPU
    torch = f.env(version="2.13.0+cpu", cuda_build=False, cuda_version=None, gpus=(), **NO_DRIVER)
    tf = replace(torch, framework="tensorflow", version="2.21.0")
    result = _env_only(torch)
    result = replace(
        result,
        frameworks=(torch, tf),
        settings=replace(result.settings, quick=True, gpu_required=False),
    )
    (note,) = [r for r in judge(result, refs).reasons if r.code == "no_gpu_found"]
    assert "verified torch 2.13.0+cpu and tensorflow 2.21.0 on the CPU only" in note.message
    assert note.framework is None


def test_on_a_mac_the_note_says_the_apple_gpu_was_not_verified(refs):
    # "no GPU found (NVML cannot be read ...)" read on a Mac as if its GPU were missing
    torch = f.env(
        version="2.9.1",
        cuda_build=False,
        cuda_version=None,
        gpus=(),
        unverified_gpus="the Apple GPU (MPS)",
        **NO_DRIVER,
    )
    result = _env_only(torch)
    result = replace(result, settings=replace(result.settings, quick=True, gpu_required=False))
    verdict = judge(result, refs)
    assert verdict.overall == "pass"
    (note,) = [r for r in verdict.reasons if r.code == "no_gpu_found"]
    assert note.message.endswith(
        "; torch can use the Apple GPU (MPS), which verify runs no model on (it reaches GPUs "
        "through torch.cuda)"
    )


def test_the_backend_child_names_gpus_it_does_not_verify():
    from types import SimpleNamespace

    from gpudoctor.verify.children.torch_backend import unverified_gpus

    def fake(mps=False, xpu_version=None, xpus=0):
        return SimpleNamespace(
            backends=SimpleNamespace(mps=SimpleNamespace(is_available=lambda: mps)),
            version=SimpleNamespace(xpu=xpu_version),
            xpu=SimpleNamespace(is_available=lambda: xpus > 0, device_count=lambda: xpus),
        )

    assert unverified_gpus(fake(mps=True)) == "the Apple GPU (MPS)"
    assert unverified_gpus(fake(xpu_version="20250101", xpus=2)) == "2 Intel GPUs (XPU)"
    assert unverified_gpus(fake()) is None


@pytest.mark.parametrize(
    ("nvml", "code"),
    [
        ({"nvml_gpu_count": 1}, "cpu_only_build"),  # a GPU is there: the build cannot use it
        ({"nvml_gpu_count": None, "nvml_error": "Driver/library version mismatch"}, "no_gpu"),
    ],
)
def test_quick_without_a_device_still_fails_a_gpu_it_cannot_use(refs, nvml, code):
    env = f.env(version="2.13.0+cpu", cuda_build=False, gpus=(), **nvml)
    result = _env_only(env)
    result = replace(result, settings=replace(result.settings, quick=True, gpu_required=False))
    verdict = judge(result, refs)
    assert verdict.overall == "fail" and code in codes(verdict, Level.FAIL)


def test_several_cpu_runs_the_budget_skipped_get_one_note_with_one_budget(refs):
    # `verify --quick` on a laptop: eight notes alike but for the model and the number
    result = f.skipped_on_the_cpu(
        f.healthy(("vgg16", "resnet50", "resnet152")),
        dict(zip(("vgg16", "resnet50", "resnet152"), (16, 5, 12), strict=True)),
    )
    verdict = judge(result, refs)
    (summary,) = [r for r in verdict.reasons if r.code == "skipped_summary"]
    assert summary.level is Level.NOTE
    assert summary.message.startswith("3 CPU runs skipped, projected past the ")
    assert "vgg16, resnet50, resnet152 in torch" in summary.message
    assert summary.message.endswith("--time-budget 16 runs them all"), summary.message
    assert len([r for r in verdict.reasons if r.code == "skipped"]) == 3  # each kept for JSON
    assert verdict.overall == "pass"


def test_a_skipped_run_that_no_budget_fits_sends_the_reader_to_each_ones_advice(refs):
    result = f.skipped_on_the_cpu(
        f.healthy(("vgg16", "resnet50")), dict(zip(("vgg16", "resnet50"), (16, None), strict=True))
    )
    (summary,) = [r for r in judge(result, refs).reasons if r.code == "skipped_summary"]
    assert summary.message.endswith("each one's advice: --format json"), summary.message


def test_one_skipped_run_keeps_its_own_note_alone(refs):
    result = f.skipped_on_the_cpu(f.healthy(("vgg16",)), dict(zip(("vgg16",), (16,), strict=True)))
    assert "skipped_summary" not in codes(judge(result, refs), Level.NOTE)


def test_every_reason_code_verify_gives_is_in_its_doc():
    # docs/verify.md is where a code in the JSON (reasons[].code) is looked up; burn_error was
    # given and named nowhere
    import re

    from gpudoctor.verify import hwverdict, verdict

    root = Path(__file__).resolve().parents[2]
    codes: set[str] = set()
    for module in (verdict, hwverdict):
        text = Path(module.__file__ or "").read_text(encoding="utf-8")
        codes |= set(re.findall(r'code="([a-z_]+)"', text))
        codes |= set(re.findall(r'Level\.[A-Z]+,\s*"([a-z_]+)"', text))
        codes |= set(re.findall(r'^[A-Z_]+ = "([a-z_]+)"$', text, re.M))
    doc = (root / "docs" / "verify.md").read_text(encoding="utf-8")
    assert len(codes) >= 25
    assert sorted(c for c in codes if f"`{c}`" not in doc) == []


def test_a_noisy_cpu_run_names_no_gpu_among_its_causes(refs):
    # `verify --quick` on a laptop without a GPU: 'spread 19% of the median (over 10%):
    # another process, a shared GPU, the CPU governor or throttling'
    result = f.with_run(f.healthy(("lenet5",)), "lenet5", "cpu", "main", spread=0.19)
    result = f.with_run(result, "lenet5", "cuda:0", "main", spread=0.3)
    messages = {r.device: r.message for r in judge(result, refs).reasons if r.code == "noisy"}
    assert messages["cpu"] == (
        "torch lenet5 cpu: spread 19% of the median (over 10%): another process on these CPUs, "
        "the CPU governor or throttling"
    )
    assert messages["cuda:0"].endswith(
        "another process, a shared GPU, the CPU governor or throttling"
    )
