"""All-reduce measurements as frozen data, shared by verify (one node) and fleet (node pairs)."""

from __future__ import annotations

from dataclasses import dataclass

ALLREDUCE_VERSION = 1
"""Version of the all-reduce record (verify's ``hardware.allreduce``, fleet's pairs/*.json)."""


@dataclass(frozen=True, kw_only=True)
class AllReducePoint:
    """One message size of the sweep, timed as nccl-tests times it."""

    bytes: int
    """Message size S: the bytes of the buffer each rank all-reduces."""
    time_s: float
    """Mean seconds per all-reduce, the slowest rank's."""
    algbw_gbps: float
    """Algorithm bandwidth S / t in GB/s (1e9 bytes)."""
    busbw_gbps: float
    """Bus bandwidth: algbw x 2(n-1)/n (nccl-tests doc/PERFORMANCE.md)."""
    correct: bool = True
    """True when every element of every rank held the known sum."""
    max_error: float = 0.0
    """Largest |value - expected sum| seen on any rank."""


@dataclass(frozen=True, kw_only=True)
class AllReduce:
    """An all-reduce across ranks (local processes or the nodes of a pair), over a size sweep."""

    version: int = ALLREDUCE_VERSION
    backend: str = ""
    """``nccl`` or ``gloo``."""
    world_size: int = 0
    device: str = ""
    """``cpu`` or ``cuda``: where each rank's buffer lived."""
    nodes: tuple[str, ...] = ()
    """Host (or SLURM node) of each rank, in rank order."""
    points: tuple[AllReducePoint, ...] = ()
    status: str = "ok"
    """``ok`` or ``error``."""
    message: str = ""
    """Why it failed: a peer that never joined, a timeout, a crash."""
    duration_s: float = 0.0

    @property
    def correct(self) -> bool:
        """True when every size gave the known sum."""
        return all(p.correct for p in self.points)

    @property
    def largest(self) -> AllReducePoint | None:
        """The largest message of the sweep: the one bandwidth is judged on."""
        return max(self.points, key=lambda p: p.bytes, default=None)
