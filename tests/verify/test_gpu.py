"""On a machine with a GPU: LeNet-5 and ResNet-50 through the real harness, telemetry included."""

from __future__ import annotations

import pytest

from gpudoctor.verify.harness import run_verify
from gpudoctor.verify.model import Settings
from gpudoctor.verify.references import load_references
from gpudoctor.verify.verdict import judge

pytestmark = [pytest.mark.gpu, pytest.mark.torch]


class _Quiet:
    def event(self, framework: str, event: dict) -> None:
        pass


@pytest.fixture(scope="module")
def on_gpu():
    settings = Settings(
        models=("lenet5", "resnet50"),
        framework="torch",
        device="all",
        time_budget_s=3.0,
        quick=True,
    )
    return run_verify(settings, _Quiet())


def test_the_gpu_runs_match_the_cpu_and_carry_telemetry(on_gpu):
    gpu = [r for r in on_gpu.runs if r.device.startswith("cuda")]
    assert gpu and all(r.status == "ok" for r in gpu), gpu
    assert all(c.rel_error < 5e-3 for c in on_gpu.comparisons if c.kind == "gpu_vs_cpu")
    main = next(r for r in gpu if r.model == "resnet50" and r.role == "main")
    assert main.telemetry is not None
    if main.telemetry.available:
        assert main.telemetry.samples and main.telemetry.max_sm_clock_mhz


def test_a_healthy_gpu_does_not_fail(on_gpu):
    verdict = judge(on_gpu, load_references())
    assert verdict.overall != "fail", [r.message for r in verdict.reasons]
