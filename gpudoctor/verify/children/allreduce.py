"""One rank of an all-reduce sweep: ``python -m gpudoctor.verify.children.allreduce CONFIG_JSON``.

The parent starts one per GPU (or per local process on the CPU), or srun starts one per node
of a pair; rank, world size and rendezvous come from the config or from SLURM's environment.
Rank 0 writes the result; every rank that fails writes why.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
import threading
import time
from typing import Any

from gpudoctor.model.serialize import to_dict
from gpudoctor.verify.bandwidth import (
    CPU_SWEEP,
    GPU_SWEEP,
    algbw,
    allreduce_busbw,
    expected_sum,
    rank_value,
)
from gpudoctor.verify.children.proto import Emit, leave, open_protocol

PORT_BASE, PORT_SPAN = 20000, 12768
"""Under SLURM without a port given: 20000 + job id mod 12768 (the same on every node), 20000
to 32767: below Linux's ephemeral range (ip_local_port_range, 32768-60999 by default), where
an outgoing connection may hold the port and rank 0 cannot listen (EADDRINUSE)."""
INIT_GRACE_S = 10.0
"""Past the init timeout, a rank still waits as long again (at least this) to be in the group,
then gives up by itself: one whose port answers with another program (not torch's store)
waited forever."""


def rendezvous(config: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """Rank, world size, local rank, address and port: from the config, else SLURM's env."""
    slurm = config.get("rank") is None
    if slurm:
        missing = [k for k in ("SLURM_PROCID", "SLURM_NTASKS") if k not in env]
        if missing:
            raise ValueError(f"no rank given and no SLURM step ({', '.join(missing)} unset)")
    rank = int(env["SLURM_PROCID"]) if slurm else int(config["rank"])
    world = int(env["SLURM_NTASKS"]) if slurm else int(config["world_size"])
    local = int(env.get("SLURM_LOCALID", "0")) if slurm else int(config.get("local_rank", rank))
    port = config.get("port")
    if port is None:
        job = int(env.get("SLURM_JOB_ID", "0") or 0)
        port = PORT_BASE + job % PORT_SPAN
    addr = config.get("addr") or "127.0.0.1"
    return {"rank": rank, "world": world, "local": local, "addr": addr, "port": int(port)}


def _sync(torch: Any, device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _max(torch: Any, dist: Any, value: float, device: Any) -> float:
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def _rendezvous_watchdog(emit: Emit, rank: int, where: str, init_timeout: float) -> threading.Timer:
    """Started: a timer that ends this rank with one error if it is not in the group in time."""
    limit = init_timeout + max(INIT_GRACE_S, init_timeout)

    def give_up() -> None:
        emit(
            {
                "event": "error",
                "rank": str(rank),
                "message": f"no rendezvous at {where} within {limit:.0f} s: another program "
                "may be listening on that port",
            }
        )
        leave(1)

    timer = threading.Timer(limit, give_up)
    timer.daemon = True
    timer.start()
    return timer


def run_rank(config: dict[str, Any], emit: Emit, env: dict[str, str]) -> int:
    """Join the group, sweep the sizes, check every sum; rank 0 emits the AllReduce."""
    import torch
    import torch.distributed as dist

    from gpudoctor.model.hardware import AllReduce, AllReducePoint

    start = time.monotonic()
    rv = rendezvous(config, env)
    rank, world = rv["rank"], rv["world"]
    want = config.get("device", "auto")
    on_gpu = want == "cuda" or (want == "auto" and torch.cuda.is_available())
    if on_gpu:
        device = torch.device("cuda", rv["local"])
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    backend = "nccl" if on_gpu else "gloo"
    init_timeout = float(config.get("init_timeout_s", 30.0))
    watchdog = _rendezvous_watchdog(emit, rank, f"{rv['addr']}:{rv['port']}", init_timeout)
    dist.init_process_group(
        backend,
        init_method=f"tcp://{rv['addr']}:{rv['port']}",
        rank=rank,
        world_size=world,
        timeout=dt.timedelta(seconds=init_timeout),
    )
    host = env.get("SLURMD_NODENAME") or socket.gethostname()
    names: list[Any] = [None] * world
    dist.all_gather_object(names, host)
    watchdog.cancel()  # every rank is in the group
    per_size = float(config.get("seconds_per_size", 0.5))
    max_iters = int(config.get("max_iters", 50))
    points = []
    want_sum = expected_sum(world)
    for size in config.get("sizes") or (GPU_SWEEP if on_gpu else CPU_SWEEP):
        count = max(1, int(size) // 4)
        check = torch.full((count,), rank_value(rank), dtype=torch.float32, device=device)
        dist.all_reduce(check)
        _sync(torch, device)
        error = float((check - want_sum).abs().max().item())
        error = _max(torch, dist, error, device)
        del check
        buf = torch.zeros(count, dtype=torch.float32, device=device)
        dist.all_reduce(buf)  # warm-up: the first call of a size sets up its channels
        _sync(torch, device)
        t0 = time.perf_counter()
        dist.all_reduce(buf)
        _sync(torch, device)
        probe = _max(torch, dist, time.perf_counter() - t0, device)
        iters = max(1, min(max_iters, int(per_size / max(probe, 1e-6))))
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(iters):
            dist.all_reduce(buf)
        _sync(torch, device)
        took = _max(torch, dist, (time.perf_counter() - t0) / iters, device)
        del buf
        nbytes = count * 4
        bw = algbw(nbytes, took)
        points.append(
            AllReducePoint(
                bytes=nbytes,
                time_s=took,
                algbw_gbps=bw,
                busbw_gbps=allreduce_busbw(bw, world),
                correct=error == 0.0,
                max_error=error,
            )
        )
    result = AllReduce(
        backend=backend,
        world_size=world,
        device="cuda" if on_gpu else "cpu",
        nodes=tuple(str(n) for n in names),
        points=tuple(points),
        duration_s=round(time.monotonic() - start, 3),
    )
    if rank == 0:
        emit({"event": "allreduce", "rank": rank, "allreduce": to_dict(result)})
    dist.barrier()
    dist.destroy_process_group()
    return 0


def main(argv: list[str]) -> int:
    """Run one rank; any failure is one ``error`` event naming the rank."""
    emit = open_protocol()
    rank = os.environ.get("SLURM_PROCID", "?")
    try:
        config = json.loads(argv[1])
        if config.get("rank") is not None:
            rank = str(config["rank"])
        return run_rank(config, emit, dict(os.environ))
    except Exception as exc:  # reported to the parent, which names the rank and the cause
        message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        emit({"event": "error", "rank": rank, "message": message})
        return 1


if __name__ == "__main__":
    leave(main(sys.argv))
