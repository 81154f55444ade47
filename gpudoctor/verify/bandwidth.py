"""Bandwidth arithmetic, as NVIDIA's nccl-tests defines it (doc/PERFORMANCE.md), and sweep sizes.

https://github.com/NVIDIA/nccl-tests/blob/master/doc/PERFORMANCE.md: algorithm bandwidth is
``algbw = S / t`` for a message of S bytes taking t seconds; an all-reduce moves
``2 (n - 1) / n`` times that over the slowest link, so its bus bandwidth is
``busbw = algbw * 2 (n - 1) / n``, a figure comparable with the hardware's link speed whatever
the number of ranks n.
"""

from __future__ import annotations

GB = 1e9
"""Bandwidths are in GB/s of 10^9 bytes, as nccl-tests, nvbandwidth and datasheets give them."""


def algbw(size_bytes: float, seconds: float) -> float:
    """Algorithm bandwidth in GB/s: S / t."""
    if seconds <= 0:
        raise ValueError("a time must be positive")
    return size_bytes / seconds / GB


def allreduce_factor(ranks: int) -> float:
    """2 (n - 1) / n: the bus-bandwidth factor of an all-reduce over n ranks."""
    if ranks < 1:
        raise ValueError("an all-reduce needs at least one rank")
    return 2.0 * (ranks - 1) / ranks


def allreduce_busbw(algbw_gbps: float, ranks: int) -> float:
    """Bus bandwidth of an all-reduce: algbw x 2 (n - 1) / n."""
    return algbw_gbps * allreduce_factor(ranks)


def copy_bandwidth(size_bytes: float, seconds: float) -> float:
    """A device-to-device copy reads S bytes and writes S bytes: 2 S / t, in GB/s.

    DCGM's memory-bandwidth test and STREAM's Copy count both directions the same way.
    """
    return algbw(2 * size_bytes, seconds)


def rank_value(rank: int) -> float:
    """What rank r puts in every element before the correctness all-reduce: r + 1."""
    return float(rank + 1)


def expected_sum(ranks: int) -> float:
    """The sum every element must hold after the all-reduce: 1 + 2 + ... + n."""
    return ranks * (ranks + 1) / 2.0


def sweep(smallest: int, largest: int, factor: int = 4) -> tuple[int, ...]:
    """Message sizes from ``smallest`` to ``largest`` bytes, each ``factor`` times the last."""
    if smallest < 4 or largest < smallest or factor < 2:
        raise ValueError("a sweep needs 4 <= smallest <= largest and a factor of 2 or more")
    sizes = [smallest]
    while sizes[-1] * factor <= largest:
        sizes.append(sizes[-1] * factor)
    if sizes[-1] != largest:
        sizes.append(largest)
    return tuple(sizes)


CPU_SWEEP = sweep(4096, 16 << 20, 16)
"""4 KiB to 16 MiB: gloo between processes of one host, a few seconds in all."""
GPU_SWEEP = sweep(8 << 20, 1 << 30, 4)
"""8 MiB to 1 GiB: NCCL's bus bandwidth is near its plateau at 1 GiB."""
