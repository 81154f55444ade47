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


@dataclass(frozen=True, kw_only=True)
class PairOutcome:
    """One two-node all-reduce of ``fleet pairs``: its sweep, or why there is none."""

    nodes: tuple[str, str]
    allreduce: AllReduce | None = None
    status: str = "ok"
    """``ok``, ``error`` (it ran and failed: a peer that never joined, a wrong sum, a crash),
    ``refused`` (it never measured the pair: srun could not start it, a node busy, drained or
    down; the run was interrupted or its time limit spent; another program held the rendezvous
    port) or ``timeout``."""
    message: str = ""
    duration_s: float = 0.0

    @property
    def busbw_gbps(self) -> float | None:
        """Bus bandwidth at the largest message, None when it failed."""
        top = self.allreduce.largest if self.allreduce is not None else None
        return top.busbw_gbps if top is not None and self.status == "ok" else None


@dataclass(frozen=True, kw_only=True)
class BadNode:
    """A node slow (or failing) with every partner it was paired with."""

    node: str
    partners: tuple[str, ...]
    busbw_gbps: tuple[float | None, ...] = ()
    """Per partner, the pair's bus bandwidth (None: the pair failed)."""


@dataclass(frozen=True, kw_only=True)
class PairsReport:
    """``gpudoctor fleet pairs``: every pair measured and what the pattern says."""

    version: int = ALLREDUCE_VERSION
    created_at: str = ""
    gpudoctor_version: str = ""
    nodes: tuple[str, ...] = ()
    pairs: tuple[PairOutcome, ...] = ()
    baseline_gbps: float | None = None
    """The upper quartile of the pairs' bus bandwidths (GB/s) at the largest message: what a
    healthy pair reaches here."""
    slow_factor: float = 0.8
    """A pair below this share of the baseline (or failed) is slow."""
    slow_pairs: tuple[tuple[str, str], ...] = ()
    bad_nodes: tuple[BadNode, ...] = ()
    """Slow with every partner: the node itself (its NIC, its GPU, its PCIe)."""
    bad_links: tuple[tuple[str, str], ...] = ()
    """Slow pairs between nodes that are fine with other partners: the link, a cable, a switch
    port, or a pair that could not be told apart (a node in one pair only)."""
    not_reached: tuple[tuple[str, str], ...] = ()
    """(node, why) for nodes asked for that could not be paired (drained, down, unknown, or
    alone in their partition)."""
    alone: tuple[str, ...] = ()
    """The nodes of ``not_reached`` that no other node selected shares a partition with: a
    pair runs in one partition, so they cannot be paired. Nothing is wrong with them."""

    @property
    def healthy(self) -> bool:
        """No bad node, no bad link, no failed pair, no node left out but those alone in
        their partition (which says nothing of them: a cpu partition of one node)."""
        failed = any(p.status != "ok" for p in self.pairs)
        left_out = [node for node, _ in self.not_reached if node not in self.alone]
        return not (self.bad_nodes or self.bad_links or failed or left_out)
