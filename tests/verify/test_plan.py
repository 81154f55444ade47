"""Devices, batch sizes and the CPU time box: a model that cannot fit is skipped, saying why."""

from __future__ import annotations

import pytest

from gpudoctor.errors import BadInputError
from gpudoctor.verify import plan


@pytest.mark.parametrize("text", ["cpu", "cuda", "cuda:0", "cuda:12", "all", " CUDA:1 "])
def test_good_devices(text):
    assert plan.parse_device(text) == text.strip().lower()


# ids avoid bare "gpu": conftest would read it as the gpu marker and skip the case
@pytest.mark.parametrize(
    "text", ["gpu", "cuda:", "cuda:x", "cuda0", "tpu", "", "cpu,cuda"], ids=lambda v: f"<{v}>"
)
def test_bad_devices_are_bad_input_naming_the_value(text):
    with pytest.raises(BadInputError, match="unknown device"):
        plan.parse_device(text)


def test_gpu_batches_follow_the_mode_and_the_override():
    assert plan.gpu_batch("resnet50", "inference", None) == 128
    assert plan.gpu_batch("resnet50", "training", None) == 64
    assert plan.gpu_batch("resnet50", "training", 7) == 7


def test_a_fast_cpu_runs_the_common_batch():
    p = plan.plan_cpu(8e9, 2e12, 15.0, override=None)
    assert p.batch == plan.COMMON_BATCH and p.projected_s <= 15.0


def test_a_slow_cpu_halves_the_batch_until_it_fits():
    # ResNet-50 (8.2 GFLOP per image) on a 400 GFLOP/s CPU with 4 s: batch 32 and 16 do not fit
    p = plan.plan_cpu(8.2e9, 400e9, 4.0, override=None)
    assert p.batch == 8
    assert p.projected_s <= 4.0


def test_a_model_that_never_fits_is_skipped_with_a_message():
    p = plan.plan_cpu(31e9, 100e9, 2.0, override=None)  # VGG-16 on a small CPU
    assert p.batch is None
    assert "skipped" in p.message and "budget" in p.message and "--time-budget" in p.message


def test_a_batch_the_user_gave_is_never_changed():
    assert plan.plan_cpu(8.2e9, 200e9, 4.0, override=32).batch is None
    assert plan.plan_cpu(8.2e9, 200e9, 100.0, override=32).batch == 32


def test_a_skip_names_a_time_budget_that_fits_with_room_to_spare():
    # VGG-16 (31 GFLOP) at 100 GFLOP/s: 34.7 s projected at batch 8; the CPU rate is measured
    # again on the next run, and varies, so the advice leaves half as much again to spare
    p = plan.plan_cpu(31e9, 100e9, 2.0, override=None)
    assert p.batch is None and "projected 35 s at batch 8" in p.message
    assert "raise --time-budget to 53 to run it" in p.message
    assert plan.plan_cpu(31e9, 100e9 / 1.5, 53.0, override=None).batch == 8  # a slower CPU too
    assert plan.plan_cpu(31e9, 100e9, 53.0, override=None).batch == 8  # the same batch


def test_a_projection_just_over_the_budget_reads_as_over_it():
    # seen on the 2-core VM: "projected 3 s at batch 8 exceeds the 3 s budget" (3.4 s really)
    flops_per_image = 3.4 * 100e9 * plan.CPU_EFFICIENCY / (8 * 7)
    p = plan.plan_cpu(flops_per_image, 100e9, 3.0, override=None)
    assert p.batch is None and p.projected_s == pytest.approx(3.4)
    assert "projected 3.4 s at batch 8 exceeds the 3 s budget" in p.message
    assert plan.seconds_over(3.004, 3.0) == "3.004"
    assert plan.seconds_over(40.2, 4.0) == "40"


def test_the_advised_time_budget_never_exceeds_the_longest_allowed():
    advice = plan.budget_advice(3000.0, 8, 4.0, batch_given=False)
    assert advice.startswith(f"raise --time-budget to {plan.MAX_BUDGET_S} ")


def test_past_the_longest_time_budget_the_advice_is_a_smaller_batch():
    # LeNet-5-sized model at a batch of 100 million: about 14,000 s, past the 3600 s maximum
    p = plan.plan_cpu(1e6, 100e9, 4.0, override=100_000_000)
    assert p.batch is None and p.projected_s > plan.MAX_BUDGET_S
    assert "raise --time-budget" not in p.message
    assert "no --time-budget can fit batch 100000000 (the most is 3,600 s)" in p.message
    assert "or leave it out for the per-model default" in p.message
    fit = int(p.message.split("give a smaller --batch-size (")[1].split(" ")[0])
    assert plan.plan_cpu(1e6, 100e9 / 1.5, 4.0, override=fit).batch == fit  # room to spare
    assert plan.plan_cpu(1e6, 100e9, 4.0, override=2 * fit).batch is None  # but not too small


def test_past_the_longest_time_budget_at_the_default_batch():
    # the default batch was halved to 8 and still needs over an hour: only batch 1 may fit
    p = plan.plan_cpu(1e13, 100e9, 4.0, override=None)  # 1400 s an image
    assert p.batch is None and "no --time-budget can fit batch 8" in p.message
    assert "per-model default" not in p.message  # the default is what was run
    assert "--batch-size 1 with --time-budget 2100 would run it" in p.message
    slow = plan.budget_advice(8 * 3000.0, 8, 4.0, batch_given=False)
    assert "--batch-size 1 with --time-budget 3600 might run it" in slow
    hopeless = plan.budget_advice(8 * 4000.0, 8, 4.0, batch_given=False)
    assert "nor batch 1" in hopeless and "--time-budget" in hopeless


@pytest.mark.parametrize(
    ("cpus", "ranks", "limit"),
    [(8, 9, 8), (1, 3, 2), (256, 65, plan.MAX_RANKS), (16, 10_000, 16)],
)
def test_ranks_beyond_the_usable_cpus_or_the_maximum_are_bad_input(monkeypatch, cpus, ranks, limit):
    monkeypatch.setattr(plan, "usable_cpus", lambda: cpus)
    assert plan.check_ranks(limit) == limit  # two always fit, even on one CPU
    with pytest.raises(BadInputError, match=rf"^--ranks {ranks}: at most {limit} \("):
        plan.check_ranks(ranks)


def test_usable_cpus_are_this_process_share():
    import os

    assert 1 <= plan.usable_cpus() <= (os.cpu_count() or 1)


def test_the_advised_time_budget_keeps_what_another_device_runs_under():
    # --time-budget sets every device's budget: advising less than the GPU's 4 s (--quick)
    # to fit the CPU would have cut the GPU's timing short
    p = plan.plan_cpu(8.2e9, 300e9, 1.5, override=None, keep_s=4.0)  # 3.1 s, 4.6 advised
    assert p.batch is None and "raise --time-budget to 5 to run it" in p.message
    p = plan.plan_cpu(8.2e9, 600e9, 1.5, override=None, keep_s=4.0)  # 1.53 s: 3 advised
    assert p.batch is None and "raise --time-budget to 4 to run it" in p.message, p.message
    assert "raise --time-budget to 3 " in plan.plan_cpu(8.2e9, 600e9, 1.5, override=None).message
    # batch 1 alone fits: its budget keeps the GPU's too
    advice = plan.budget_advice(8192 * 2.0, 8192, 1.5, batch_given=True, keep_s=4.0)
    assert advice.endswith("--batch-size 1 with --time-budget 4 would run it"), advice


def test_a_skip_groups_the_thousands_of_its_figures_but_not_of_an_option_value():
    # "projected 2400 s ... (CPU matmul 2500 GFLOP/s)": the figures are prose and read grouped;
    # the --time-budget advised stays one token a shell takes as the option's value
    p = plan.plan_cpu(2400 * 2.5e12 * plan.CPU_EFFICIENCY / 56, 2.5e12, 1.5, override=None)
    assert "projected 2,400 s at batch 8" in p.message, p.message
    assert "(CPU matmul 2,500 GFLOP/s)" in p.message, p.message
    assert "raise --time-budget to 3600 to run it" in p.message, p.message
    assert plan.seconds_over(3000.2, 3000.0) == "3,000.2"
    huge = plan.budget_advice(1e9, 8, 1.5, batch_given=False)
    assert "(the most is 3,600 s)" in huge and "--time-budget 3600 " not in huge, huge


def test_a_skip_records_the_budget_its_message_advises():
    p = plan.plan_cpu(31e9, 100e9, 2.0, override=None)
    assert p.advised_budget_s == 53 and "--time-budget to 53 " in p.message
    # the GPUs' budget is kept, as in the message
    kept = plan.plan_cpu(31e9, 100e9, 2.0, override=None, keep_s=60.0)
    assert kept.advised_budget_s == 60 and "--time-budget to 60 " in kept.message
    # past the longest budget only a smaller batch helps: no budget is advised
    huge = plan.plan_cpu(31e9, 0.5e9, 2.0, override=None)
    assert huge.advised_budget_s is None and "--batch-size" in huge.message
