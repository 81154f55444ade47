"""Recorded verify measurements for the verdict, render and plot tests: a healthy GPU box.

The figures are shaped like a real run on an A100-class GPU beside a 16-core CPU; each test
changes the one thing it is about.
"""

from __future__ import annotations

from dataclasses import replace

from gpudoctor.verify.model import (
    Comparison,
    FrameworkEnv,
    GpuInfo,
    Peak,
    Run,
    Settings,
    Telemetry,
    TelemetrySample,
    VerifyResult,
)

MACS = {
    "lenet5": 417_000,
    "alexnet": 714_000_000,
    "vgg16": 15_470_000_000,
    "googlenet": 1_498_000_000,
    "inception_v3": 5_713_000_000,
    "resnet50": 4_089_000_000,
    "resnet152": 11_514_000_000,
}
# images/s of a healthy GPU (main batch) and CPU (batch 32), fp32 inference
GPU_IPS = {
    "lenet5": 200_000.0,
    "alexnet": 20_000.0,
    "vgg16": 1_100.0,
    "googlenet": 4_000.0,
    "inception_v3": 1_000.0,
    "resnet50": 1_500.0,
    "resnet152": 600.0,
}
CPU_IPS = {
    "lenet5": 50_000.0,
    "alexnet": 400.0,
    "vgg16": 20.0,
    "googlenet": 150.0,
    "inception_v3": 40.0,
    "resnet50": 60.0,
    "resnet152": 22.0,
}
GPU_BATCH = {
    "lenet5": 1024,
    "alexnet": 256,
    "vgg16": 64,
    "googlenet": 128,
    "inception_v3": 64,
    "resnet50": 128,
    "resnet152": 64,
}
GPU_NAME = "NVIDIA A100-SXM4-80GB"
GPU_PEAK = 19.0e12
CPU_PEAK = 1.2e12


def sample(t: float = 0.0, **changes: object) -> TelemetrySample:
    """One healthy NVML reading under load."""
    base = TelemetrySample(
        t_s=t,
        sm_clock_mhz=1410,
        clock_event_reasons=0,
        pcie_gen=4,
        pcie_width=16,
        temperature_c=62,
        power_w=310.0,
        utilization_pct=98,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def telemetry(samples: list[TelemetrySample] | None = None, **changes: object) -> Telemetry:
    """Healthy telemetry: 20 samples at full clock on a Gen4 x16 link."""
    base = Telemetry(
        available=True,
        max_sm_clock_mhz=1410,
        max_pcie_gen=4,
        max_pcie_width=16,
        gpu_max_pcie_gen=4,
        gpu_max_pcie_width=16,
        power_limit_w=400.0,
        samples=tuple(samples if samples is not None else [sample(i * 0.1) for i in range(20)]),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def blocks(ips: float, batch: int, n: int = 8) -> tuple[float, ...]:
    """Block times that give ``ips`` with a little jitter (1 iteration per block)."""
    base = batch / ips
    return tuple(base * (1 + 0.01 * ((i % 3) - 1)) for i in range(n))


def run(model: str, device: str = "cuda:0", **changes: object) -> Run:
    """A healthy timed run of ``model``."""
    gpu = device != "cpu"
    batch = GPU_BATCH[model] if gpu else 32
    ips = (GPU_IPS if gpu else CPU_IPS)[model]
    base = Run(
        model=model,
        framework="torch",
        device=device,
        device_name=GPU_NAME if gpu else "cpu",
        batch_size=batch,
        requested_batch_size=batch,
        images_per_second=ips,
        spread=0.02,
        block_seconds=blocks(ips, batch),
        iterations_per_block=1,
        warmup_iterations=10,
        warmup_converged=True,
        first_call_s=0.5,
        threads=None if gpu else 16,
        flops_per_image=2.0 * MACS[model],
        telemetry=telemetry() if gpu else None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def common_run(model: str, **changes: object) -> Run:
    """The GPU run at the CPU's batch (32), a bit slower per image than the main batch."""
    ips = GPU_IPS[model] * 0.8
    return run(
        model,
        role="common",
        batch_size=32,
        requested_batch_size=32,
        images_per_second=ips,
        block_seconds=blocks(ips, 32),
        **changes,
    )


def comparison(model: str, **changes: object) -> Comparison:
    """GPU logits matching the CPU's."""
    base = Comparison(
        model=model,
        framework="torch",
        kind="gpu_vs_cpu",
        reference="torch cpu",
        candidate="torch cuda:0",
        max_abs_error=1e-5,
        rel_error=2e-6,
        top1_agree=(True, True, True, True),
        rel_margins=(0.2, 0.1, 0.3, 0.05),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def env(**changes: object) -> FrameworkEnv:
    """A CUDA build of torch that sees one GPU, cuDNN on."""
    base = FrameworkEnv(
        framework="torch",
        version="2.13.0+cu128",
        cuda_build=True,
        cuda_version="12.8",
        cudnn_version="91000",
        cudnn_enabled=True,
        gpus=(GpuInfo(device="cuda:0", name=GPU_NAME, compute_capability="8.0"),),
        nvml_gpu_count=1,
        cpu_threads=16,
        inter_op_threads=16,
        tf32=False,
        cpu_matmul_flops=CPU_PEAK,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def healthy(models: tuple[str, ...] = tuple(MACS), **settings: object) -> VerifyResult:
    """Every model on the GPU (main and common batch) and on the CPU, all correct and fast."""
    runs: list[Run] = []
    for m in models:
        runs += [run(m), common_run(m), run(m, "cpu")]
    s = Settings(models=models, framework="torch", device="all")
    return VerifyResult(
        settings=replace(s, **settings),  # type: ignore[arg-type]
        frameworks=(env(),),
        peaks=(
            Peak(framework="torch", device="cuda:0", precision="fp32", flops=GPU_PEAK),
            Peak(framework="torch", device="cpu", precision="fp32", flops=CPU_PEAK),
        ),
        runs=tuple(runs),
        comparisons=tuple(comparison(m) for m in models),
        cpu_count=16,
        duration_s=120.0,
    )


def with_run(
    result: VerifyResult, model: str, device: str, role: str, **changes: object
) -> VerifyResult:
    """``result`` with one run changed."""
    runs = tuple(
        replace(r, **changes)  # type: ignore[arg-type]
        if (r.model, r.device, r.role) == (model, device, role)
        else r
        for r in result.runs
    )
    return replace(result, runs=runs)


def skipped_on_the_cpu(result: VerifyResult, advised: dict[str, int | None]) -> VerifyResult:
    """``result`` with the CPU runs of ``advised``'s models skipped by the time budget, each
    advising its --time-budget (None: a smaller batch)."""
    for model, budget in advised.items():
        advice = f"raise --time-budget to {budget} to run it" if budget else "give a smaller batch"
        result = with_run(
            result,
            model,
            "cpu",
            "main",
            status="skipped",
            message=f"skipped: projected past the budget; {advice}",
            images_per_second=None,
            advised_budget_s=budget,
        )
    return result
