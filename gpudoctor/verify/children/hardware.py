"""Bandwidths and the burn, one measurement per child: ``python -m ...children.hardware CONFIG``.

``measure`` is ``memory``, ``h2d``, ``d2h``, ``p2p`` or ``burn``; ``device`` is ``cpu`` or a
list of ``cuda:N``. Each result is one JSON line as soon as it is measured, so a GPU that
hangs later loses only its own figure.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from typing import Any

from gpudoctor.model.serialize import to_dict
from gpudoctor.verify.bandwidth import algbw, copy_bandwidth
from gpudoctor.verify.children.proto import Emit, leave, open_protocol
from gpudoctor.verify.model import Bandwidth, BurnDevice

MIB = 1 << 20


def host_buffer_bytes(wanted: int, available: int | None) -> int:
    """The copy's buffer: ``wanted``, but at most a quarter of available memory (two buffers)."""
    if available is None:
        return wanted
    return max(MIB, min(wanted, available // 4) // MIB * MIB)


def _available_memory() -> int | None:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _median_seconds(run: Any, repeats: int, sync: Any = None) -> float:
    times = []
    run()  # warm-up: first touch of the pages, the copy engines' setup
    if sync is not None:
        sync()
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_memory(config: dict[str, Any]) -> Bandwidth:
    """Host memory bandwidth: a copy of a large buffer, bytes read + written (as STREAM Copy)."""
    import numpy as np

    size = host_buffer_bytes(int(config.get("bytes", 256 * MIB)), _available_memory())
    src = np.ones(size // 8, dtype=np.float64)
    dst = np.empty_like(src)
    seconds = _median_seconds(lambda: np.copyto(dst, src), int(config.get("repeats", 5)))
    return Bandwidth(
        kind="memory",
        device="cpu",
        device_name="host memory",
        bytes=int(src.nbytes),
        seconds=seconds,
        gbps=copy_bandwidth(src.nbytes, seconds),
    )


def _gpu_names(torch: Any, devices: list[str]) -> dict[str, str]:
    return {d: torch.cuda.get_device_name(torch.device(d)) for d in devices}


def gpu_bandwidth(torch: Any, kind: str, device: str, size: int, repeats: int) -> Bandwidth:
    """``memory`` (device copy, 2 S / t), ``h2d`` or ``d2h`` (pinned host memory, S / t)."""
    dev = torch.device(device)
    n = size // 4
    sync = lambda: torch.cuda.synchronize(dev)  # noqa: E731 -- a one-line callable
    if kind == "memory":
        src = torch.empty(n, dtype=torch.float32, device=dev).fill_(1.0)
        dst = torch.empty_like(src)
        seconds = _median_seconds(lambda: dst.copy_(src), repeats, sync)
        gbps = copy_bandwidth(size, seconds)
    else:
        host = torch.empty(n, dtype=torch.float32, pin_memory=True).fill_(1.0)
        gpu = torch.empty(n, dtype=torch.float32, device=dev)
        if kind == "h2d":
            seconds = _median_seconds(lambda: gpu.copy_(host, non_blocking=True), repeats, sync)
        else:
            seconds = _median_seconds(lambda: host.copy_(gpu, non_blocking=True), repeats, sync)
        gbps = algbw(size, seconds)
    return Bandwidth(
        kind=kind,
        device=device,
        device_name=torch.cuda.get_device_name(dev),
        bytes=size,
        seconds=seconds,
        gbps=gbps,
    )


def nvlink_between(a: int, b: int) -> str:
    """``nvlink`` or ``pcie`` between two GPUs as NVML's P2P status says; empty if unknown."""
    try:
        import pynvml

        pynvml.nvmlInit()
        ha, hb = pynvml.nvmlDeviceGetHandleByIndex(a), pynvml.nvmlDeviceGetHandleByIndex(b)
        status = pynvml.nvmlDeviceGetP2PStatus(ha, hb, pynvml.NVML_P2P_CAPS_INDEX_NVLINK)
    except Exception:  # no NVML, an old driver: the link stays unnamed
        return ""
    return "nvlink" if status == pynvml.NVML_P2P_STATUS_OK else "pcie"


def gpu_peer(torch: Any, src: str, dst: str, size: int, repeats: int) -> Bandwidth:
    """One direction of one GPU pair: a copy from ``src`` to ``dst`` (S / t)."""
    a, b = torch.device(src), torch.device(dst)
    x = torch.empty(size // 4, dtype=torch.float32, device=a).fill_(1.0)
    y = torch.empty(size // 4, dtype=torch.float32, device=b)

    def sync() -> None:
        torch.cuda.synchronize(a)
        torch.cuda.synchronize(b)

    seconds = _median_seconds(lambda: y.copy_(x, non_blocking=True), repeats, sync)
    return Bandwidth(
        kind="p2p",
        device=src,
        device_name=torch.cuda.get_device_name(a),
        peer=dst,
        link=nvlink_between(a.index or 0, b.index or 0),
        bytes=size,
        seconds=seconds,
        gbps=algbw(size, seconds),
    )


def burn(config: dict[str, Any], device: str, sampler: Any = None) -> BurnDevice:
    """Multiply the same two matrices for ``seconds``; every product is compared with the first
    on the device, and the rounds that held a differing one are counted."""
    import torch

    dev = torch.device(device)
    n = int(config.get("matrix", 4096 if dev.type == "cuda" else 256))
    seconds = float(config["seconds"])
    round_s = float(config.get("round_s", 1.0))
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 on CUDA cores: bit-reproducible
    gen = torch.Generator(device="cpu").manual_seed(1234)
    a = torch.randn(n, n, generator=gen).to(dev)
    b = torch.randn(n, n, generator=gen).to(dev)
    result = burn_rounds(
        torch,
        lambda: a @ b,
        seconds=seconds,
        round_s=round_s,
        flop=2.0 * n**3,
        sync=(lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None),
        sampler=sampler,
    )
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    return BurnDevice(device=device, device_name=name, seconds=round(seconds, 3), **result)


CALIBRATE_SHARE = 0.1
"""The first round is sized from calls lasting together at least this share of a round."""
MAX_PER_ROUND = 1_000_000


def _compare_calls(torch: Any, product: Any, first: Any, gap: Any, count: int) -> Any:
    """``count`` products, each compared with ``first`` on the device; the largest difference
    (NaN and infinity carry on), as a 0-d tensor the caller reads once."""
    worst = torch.zeros((), dtype=first.dtype, device=first.device)
    for _ in range(count):
        low, high = torch.aminmax(torch.sub(product(), first, out=gap))
        worst = torch.maximum(worst, torch.maximum(high, -low))
    return worst


def burn_rounds(
    torch: Any,
    product: Any,
    *,
    seconds: float,
    round_s: float,
    flop: float,
    sync: Any,
    sampler: Any = None,
    clock: Any = time.perf_counter,
) -> dict[str, Any]:
    """The burn's loop: rounds of ``product()`` for ``seconds``, each product compared with the
    first one. The largest difference is kept on the device (read once per round) so that the
    loop never waits on it. The comparison moves 16 bytes per element of an fp32 n x n
    product against the product's 2n flops per element: a few per cent of a large product's
    time, which the rate includes (on the CPU's 256² matrices, 22-66 µs against 0.4-6 ms for
    the product on the busy 2-core development VM).

    Rounds last about ``round_s``: the first is sized from a few calls of the whole round's
    work (product and comparison) lasting a tenth of a round, each next one from the round
    before. Sized from one bare call, the CPU's rounds lasted a quarter of a second: one call
    of a few milliseconds on a shared CPU is off by several times either way."""
    first = product()
    sync()
    scale = float(first.abs().max().item()) or 1.0
    gap = torch.empty_like(first)
    finite = bool(torch.isfinite(first).all().item())
    # Calibration: the same work as a round, so its products are compared too (a difference
    # found here counts in the first round), in growing batches until they last long enough.
    count, carried = 1, 0.0
    while True:
        t0 = clock()
        seen = float(_compare_calls(torch, product, first, gap, count).item())
        took = max(clock() - t0, 1e-9)
        carried = _worse(carried, seen)
        if took >= round_s * CALIBRATE_SHARE or count >= MAX_PER_ROUND:
            break
        count *= 4
    per_round = _per_round(round_s, took / count)
    rates: list[float] = []
    mismatched, worst, rounds = 0, 0.0, 0
    if sampler is not None:
        sampler.on_timed(True)
    end = clock() + seconds
    while rounds == 0 or clock() < end:  # one round at least: it holds the calibration's
        t0 = clock()
        seen = float(_compare_calls(torch, product, first, gap, per_round).item())
        took = max(clock() - t0, 1e-9)  # .item() waits for the round, as a sync would
        rates.append(flop * per_round / took)
        rounds += 1
        if rounds == 1:
            seen = _worse(seen, carried)
        if seen != 0.0:  # a difference, an infinity or a NaN
            mismatched += 1
            if math.isfinite(seen):
                worst = max(worst, seen / scale)
            else:  # said by ``finite``: the report's JSON holds no infinity or NaN
                finite = False
        per_round = _per_round(round_s, took / per_round)  # the device's speed as it is now
    telemetry = None
    if sampler is not None:
        sampler.on_timed(False)
        telemetry = sampler.result()
    return {
        "rounds": rounds,
        "mismatched_rounds": mismatched,
        "max_rel_diff": worst,
        "finite": finite,
        "flops": tuple(rates),
        "telemetry": telemetry,
    }


def _worse(a: float, b: float) -> float:
    """The worse of two largest differences: NaN, then the larger (infinity included)."""
    return a if math.isnan(a) else b if math.isnan(b) else max(a, b)


def _per_round(round_s: float, per_call_s: float) -> int:
    """Calls that last about ``round_s`` at ``per_call_s`` each."""
    return max(1, min(round(round_s / max(per_call_s, 1e-9)), MAX_PER_ROUND))


def run(config: dict[str, Any], emit: Emit) -> None:
    """Measure what ``config`` asks, emitting each figure as it comes."""
    measure, devices = config["measure"], list(config.get("devices", ["cpu"]))
    if measure == "devices":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        emit({"event": "devices", "devices": [f"cuda:{i}" for i in range(count)]})
        return
    size, repeats = int(config.get("bytes", 256 * MIB)), int(config.get("repeats", 5))
    if measure == "memory" and devices == ["cpu"]:
        emit({"event": "bandwidth", "bandwidth": to_dict(cpu_memory(config))})
        return
    if measure == "burn":
        sampler = None
        if devices[0] != "cpu":
            from gpudoctor.verify.children.telemetry import open_sampler

            sampler = open_sampler(None, int(devices[0].split(":")[1]))
        emit({"event": "burn", "burn": to_dict(burn(config, devices[0], sampler))})
        return
    import torch

    # "start" before each GPU (or pair): a GPU that hangs is then named by the parent, which
    # kills this child at its deadline and hears nothing more.
    if measure == "p2p":
        for src in devices:
            for dst in devices:
                if src != dst:
                    emit({"event": "start", "device": src, "peer": dst})
                    found = gpu_peer(torch, src, dst, size, repeats)
                    emit({"event": "bandwidth", "bandwidth": to_dict(found)})
        return
    for device in devices:
        emit({"event": "start", "device": device})
        found = gpu_bandwidth(torch, measure, device, size, repeats)
        emit({"event": "bandwidth", "bandwidth": to_dict(found)})


def main(argv: list[str]) -> int:
    """One measurement; a failure is one ``error`` event."""
    emit = open_protocol()
    try:
        run(json.loads(argv[1]), emit)
    except Exception as exc:  # the parent reports it as this measurement's error
        message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        emit({"event": "error", "message": message})
        return 1
    emit({"event": "done"})
    return 0


if __name__ == "__main__":
    leave(main(sys.argv))
