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
