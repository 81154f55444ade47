"""Recorded --hardware results for the verdict, render and plot tests: an 8-GPU H100 node."""

from __future__ import annotations

from dataclasses import replace

from gpudoctor.model.hardware import AllReduce, AllReducePoint
from gpudoctor.verify.model import (
    ITEMS,
    Bandwidth,
    BurnDevice,
    HardwareFloor,
    HardwareResult,
    HardwareSettings,
    Settings,
    Telemetry,
    TelemetrySample,
    VerifyResult,
)

H100 = "NVIDIA H100 80GB HBM3"
AZURE = "https://github.com/Azure/azurehpc-health-checks/blob/x/conf/nd96isr_h100_v5.conf"


def floors(verified: bool = False) -> tuple[HardwareFloor, ...]:
    return (
        HardwareFloor(gpu=H100, kind="memory", gbps=1905.0, verified=verified, source="DCGM"),
        HardwareFloor(gpu=H100, kind="h2d", gbps=48.0, verified=verified, source=AZURE),
        HardwareFloor(gpu=H100, kind="p2p", gbps=335.0, verified=verified, source=AZURE),
        HardwareFloor(
            gpu=H100, kind="allreduce", gbps=460.0, verified=verified, source=AZURE, gpus=8
        ),
    )


def sweep(busbw: float = 480.0, n: int = 8, correct: bool = True) -> AllReduce:
    factor = 2 * (n - 1) / n
    points = tuple(
        AllReducePoint(
            bytes=size,
            time_s=size / (busbw / factor * 1e9),
            algbw_gbps=busbw / factor,
            busbw_gbps=busbw,
            correct=correct,
            max_error=0.0 if correct else 3.0,
        )
        for size in (8 << 20, 1 << 30)
    )
    return AllReduce(backend="nccl", world_size=n, device="cuda", points=points)


def telemetry(reasons: int = 0) -> Telemetry:
    samples = tuple(
        TelemetrySample(
            t_s=i * 0.1,
            sm_clock_mhz=1980,
            clock_event_reasons=reasons,
            temperature_c=70,
            power_w=690.0,
            utilization_pct=100,
        )
        for i in range(20)
    )
    return Telemetry(available=True, max_sm_clock_mhz=1980, samples=samples)


def burn(device: str = "cuda:0", **changes: object) -> BurnDevice:
    base = BurnDevice(
        device=device,
        device_name=H100,
        seconds=60.0,
        rounds=9,
        flops=(5.0e13,) * 9,
        telemetry=telemetry(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def healthy(**changes: object) -> HardwareResult:
    gpus = [f"cuda:{i}" for i in range(8)]
    bandwidths = [
        Bandwidth(kind="memory", device=d, device_name=H100, bytes=1 << 30, gbps=2900.0)
        for d in gpus
    ]
    bandwidths += [
        Bandwidth(kind="h2d", device=d, device_name=H100, bytes=1 << 30, gbps=53.0) for d in gpus
    ]
    bandwidths.append(
        Bandwidth(
            kind="p2p",
            device="cuda:0",
            peer="cuda:1",
            device_name=H100,
            link="nvlink",
            bytes=1 << 30,
            gbps=370.0,
        )
    )
    base = HardwareResult(
        settings=HardwareSettings(items=ITEMS, burn_s=60.0, device="cuda"),
        bandwidths=tuple(bandwidths),
        allreduce=sweep(),
        burn=tuple(burn(d) for d in gpus),
        floors=floors(),
        duration_s=95.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def result(hw: HardwareResult) -> VerifyResult:
    settings = Settings(models=(), framework="all", device=hw.settings.device)
    return VerifyResult(settings=settings, hardware=hw, started_at="2026-12-07T04:00:00Z")
