"""The fleet report: many nodes' diagnoses side by side, what differs and who lags (versioned)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gpudoctor.model.findings import Severity
from gpudoctor.model.hardware import PairsReport
from gpudoctor.model.slurm import GpuCounts

FLEET_SCHEMA_VERSION = 2
"""Bumped on any change that breaks a reader of the JSON form (docs/fleet.md)."""

TIE = "tie"
"""A drift's ``reference`` where no value is the most common of its scope (Drift.tied)."""


class VerifyVerdict(enum.Enum):
    """A verify result's overall verdict; its value is the word verify and the JSON use."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    FAIL = "fail"

    @property
    def severity(self) -> Severity:
        """The node verdict it stands for: a failed verify is an error, the node cannot train."""
        return {
            VerifyVerdict.PASS: Severity.OK,
            VerifyVerdict.WARN: Severity.WARNING,
            VerifyVerdict.FAIL: Severity.ERROR,
        }[self]


@dataclass(frozen=True, kw_only=True)
class NodeStack:
    """What a node runs, as the fleet groups and shows it: GPUs, driver, CUDA, cuDNN, frameworks.

    One value for a node's facts, its summary line and its group, so that nodes with equal
    stacks group together (it is hashable: the frameworks are pairs, not a dict).
    """

    gpu_model: str | None = None
    """The GPUs' name; several names joined with `` + `` on a mixed node."""
    gpu_count: int = 0
    driver: str | None = None
    cuda_driver: str | None = None
    cudnn: str | None = None
    """The cuDNN the frameworks loaded (or were built with), e.g. ``9.19.0``."""
    frameworks: tuple[tuple[str, str], ...] = ()
    """(framework name, its build) sorted by name, e.g. ``("torch", "2.11.0+cu130 (CUDA 13.0,
    cuDNN 9.19.0)")``."""

    def build(self, framework: str) -> str | None:
        """The build of ``framework`` on this node, or None when it was not probed."""
        return dict(self.frameworks).get(framework)


@dataclass(frozen=True, kw_only=True)
class GpuFacts:
    """The facts of one GPU that should match its siblings of the same model."""

    index: int
    name: str | None = None
    memory_total_mib: int | None = None
    pcie_gen: int | None = None
    pcie_gen_max: int | None = None
    pcie_width: int | None = None
    pcie_width_max: int | None = None
    power_limit_w: float | None = None
    sm_clock_max_mhz: int | None = None
    ecc_enabled: bool | None = None
    mig_enabled: bool | None = None
    persistence_mode: bool | None = None
    nvlinks_active: int | None = None
    """NVLinks up (None where NVML listed none or could not be asked)."""
    nvlink_speed_mbps: int | None = None
    """The speed of the GPU's fastest NVLink in MBps (None where unknown)."""


@dataclass(frozen=True, kw_only=True)
class Throughput:
    """One timed verify run on a node: images per second of a model on one device."""

    node: str
    device: str
    """``cuda:0`` or ``cpu``, as verify names it."""
    device_name: str
    model: str
    framework: str
    mode: str
    precision: str
    batch_size: int
    images_per_second: float
    layout: str | None = None


@dataclass(frozen=True, kw_only=True)
class NodeFinding:
    """One finding on one node as that node's report words it (``GPU 2 has ...``)."""

    id: str
    severity: Severity
    title: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class GpusFound:
    """The GPUs a node's own check found where a job's device cgroup cannot hide them: its PCI
    bus and the driver's list. ``fleet run``'s check runs in a job that asked for no GPU, in
    which NVML lists none; these still count every GPU of the node."""

    on_bus: int
    """NVIDIA display-class PCI functions, whatever driver is bound to them."""
    bound: int
    """Those bound to the ``nvidia`` driver."""
    driver: int | None
    """GPUs in ``/proc/driver/nvidia/gpus``; None where the report has no site facts."""
    module_loaded: bool
    mig: bool = False
    """A GPU NVML lists has MIG on."""
    mig_devices: int | None = None
    """What SLURM's AutoDetect=nvml counts with MIG on (each MIG device, each whole GPU
    without MIG); None without MIG, or where NVML did not list every GPU and its devices."""
    nvml: int | None = None
    """The GPUs NVML lists (lost ones included, as the gate counts them) where nothing hid
    some of them from it: no job or a job given no GPU, outside a container that picks its
    GPUs. None where NVML failed, its count may be a job's or a container's share, or it
    listed none in a job (a device cgroup hides every GPU from a job given none)."""
    lost_pci: tuple[str, ...] = ()
    """PCI addresses of the GPUs on the bus or in the driver that NVML does not list, where
    its count is the node's (``nvml`` known): GD-GPU-068's title names them, as check's does."""
    excluded_pci: tuple[str, ...] = ()
    """Those of ``lost_pci`` the driver excluded on purpose (``NVreg_ExcludedGpus``, as NVML
    names them): not lost, but SLURM cannot give them out either; empty in fleet reports
    written before 2026-12-08."""
    refused_pci: tuple[str, ...] = ()
    """Those of ``lost_pci`` the installed driver cannot drive (GD-DRV-007, -008 or -009:
    a Blackwell GPU on the proprietary module, a GPU past its last branch): never started,
    not lost, and SLURM cannot give them out either; empty in fleet reports written before
    2026-12-08."""

    @property
    def owned(self) -> int:
        """GPUs the driver owns on the node (model.derived.node_gpu_count)."""
        return max(self.bound, self.driver or 0)

    @property
    def nvml_short(self) -> bool:
        """NVML lists fewer of the GPUs than the driver owns: the others cannot be used.

        A job's device cgroup (``fleet run`` asks for no GPU) hides every GPU or none, so
        NVML listing none there is no count (``nvml`` is None); listing a few, it has lost
        the rest.
        """
        return self.nvml is not None and self.nvml < self.owned - len(self.excluded_pci)

    @property
    def counts(self) -> GpuCounts:
        """The counts SLURM's GRES is judged against (model.slurm.judge_gres)."""
        return GpuCounts(
            owned=self.owned,
            nvml=self.nvml,
            mig_devices=self.mig_devices,
            excluded=len(self.excluded_pci),
        )


@dataclass(frozen=True, kw_only=True)
class NodeFacts:
    """What the fleet report keeps of one node's report: small, so 10,000 of them fit."""

    node: str
    verdict: Severity
    """ERROR or WARNING after the worst finding; OK when nothing is to be done (information
    alone never makes a node anything but OK)."""
    finding_ids: tuple[str, ...] = ()
    findings: tuple[NodeFinding, ...] = ()
    """The findings behind ``finding_ids``, each with this node's own title and evidence."""
    stack: NodeStack = NodeStack()
    kernel_module: str | None = None
    os: str | None = None
    kernel: str | None = None
    gpus: tuple[GpuFacts, ...] = ()
    partitions: tuple[str, ...] = ()
    ib_rates: str | None = None
    """The active InfiniBand/RoCE ports' rates, e.g. ``400 Gb/s x8`` or ``200 Gb/s x1 + 400
    Gb/s x7``; None where the node has no port up (or the report predates 2026-12-07)."""
    acs_redirect: str | None = None
    """``on`` when PCIe ACS redirect is on at a bridge above the node's GPUs, ``off`` when
    the bridges were read (as root) and none redirects; None where ACS was not read."""
    gpus_found: GpusFound | None = None
    """The GPUs on its PCI bus and in its driver, compared with its SLURM GRES; None where
    the PCI bus could not be read (or the node is no Linux machine)."""
    checked_at: str = ""
    """When its check ran: the report's ``created_at`` (ISO 8601, UTC); "" where not known."""


@dataclass(frozen=True, kw_only=True)
class NodeSummary:
    """One node's line in the fleet report."""

    node: str
    verdict: Severity
    """``error`` or ``warning`` after the worst finding or a failed (error) or warned
    (warning) verify result; ``ok`` when there is nothing to act on (information alone reads
    ``ok``: never INFO)."""
    finding_ids: tuple[str, ...]
    """The IDs of its findings."""
    stack: NodeStack
    partitions: tuple[str, ...] = ()
    """The SLURM partitions it is in."""
    verify: VerifyVerdict | None = None
    """The verify result's verdict; None without one."""
    drift: bool = False
    """The node (or one of its GPUs) is in the minority of a drifting fact."""
    checked_at: str = ""
    """When its check ran: its report's ``created_at`` (ISO 8601, UTC,
    ``2026-12-07T04:05:06Z``); "" where the report gives none."""


@dataclass(frozen=True, kw_only=True)
class NodeGroup:
    """Nodes with the same configuration and the same findings, in SLURM hostlist notation."""

    hostlist: str
    """SLURM hostlist notation, e.g. ``gpu-[001-006,008]``."""
    count: int
    """How many nodes."""
    verdict: Severity
    finding_ids: tuple[str, ...]
    stack: NodeStack
    verify: VerifyVerdict | None = None
    drift: bool = False


@dataclass(frozen=True, kw_only=True)
class NodeEvidence:
    """One node's evidence lines that not every node of its place has.

    Its own job ID, the times of its own Xids: split by them, 20 nodes with one cause were 20
    places."""

    node: str
    evidence: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FindingPlace:
    """Nodes on which one finding ID has the same severity and titles: one hostlist, one fix.

    Whatever evidence each node has of its own is kept apart, in ``node_evidence``."""

    hostlist: str
    nodes: tuple[str, ...]
    severity: Severity
    titles: tuple[str, ...]
    """Each finding of this ID on one such node (one per GPU for a per-GPU finding)."""
    evidence: tuple[str, ...]
    """The evidence lines every node of the place has (a fix among them names the place's
    hostlist)."""
    node_evidence: tuple[NodeEvidence, ...] = ()
    """Each node's lines beyond ``evidence``, for the nodes that have any; a node's whole
    evidence is ``evidence`` and its own."""


@dataclass(frozen=True, kw_only=True)
class FleetFinding:
    """One finding ID, the nodes that have it, and what it says on each of them."""

    id: str
    severity: Severity
    """The worst severity it has on any node."""
    name: str
    """What the ID means on any node (the rule's title); each node's own words are in places."""
    nodes: tuple[str, ...]
    hostlist: str
    """The nodes that have it, in hostlist notation."""
    places: tuple[FindingPlace, ...] = ()
    """Nodes on which the finding has the same titles, each group in its nodes' own words."""


@dataclass(frozen=True, kw_only=True)
class VerifyOutcome:
    """A node's verify result's verdict."""

    node: str
    verdict: VerifyVerdict
    path: str
    reason: str = ""
    """Why it did not pass: the messages of the result's reasons at its verdict's level (the
    first two, then ``(and N more in the file)``); empty for a pass or a result that gives
    none."""


@dataclass(frozen=True, kw_only=True)
class Skipped:
    """A file beside the reports that is not a gpudoctor report at all (not a node)."""

    path: str
    why: str


@dataclass(frozen=True, kw_only=True)
class Drift:
    """A fact that should be the same across ``scope`` and is not."""

    fact: str
    """The fact that differs (``driver``, ``gpu.power_limit_w`` ...)."""
    scope: str
    """``gpu model NVIDIA H200``, ``partition gpu`` or ``fleet``."""
    majority: str
    """The reference value: the most common value in the scope, or the baseline's value (see
    ``reference``); empty in a tie, where no value is the most common."""
    majority_count: int
    """How many nodes (GPUs for ``gpu.*`` facts) have the reference value; 0 is possible
    against a baseline, and 0 in a tie."""
    minority: dict[str, tuple[str, ...]]
    """Each other value -> the nodes (``node`` or ``node:gpuN`` for per-GPU facts) that have it;
    in a tie every value."""
    reference: str = "majority"
    """What ``majority`` is: ``majority`` (the most common value in the scope), ``tie`` (no
    value is: two or more have the most members, so ``majority`` is empty and every value is
    in ``minority``; added 2026-12-08, before which the larger tied value was ``majority``) or
    ``baseline NAME`` (the value a golden report or pinned facts give; ``majority_count`` is
    then how many match it)."""

    @property
    def tied(self) -> bool:
        """No value is the most common (``reference`` is ``tie``), as in a two-node fleet with
        7 GPUs on one node and 8 on the other: no side is the odd one out. Never against a
        baseline's value."""
        return self.reference == TIE


@dataclass(frozen=True, kw_only=True)
class Outlier:
    """A node or GPU far below the median of its peers on the same model and settings."""

    node: str
    device: str
    device_name: str
    model: str
    framework: str
    precision: str
    mode: str
    batch_size: int
    images_per_second: float
    median: float
    """The median images/s of its peers' runs (same GPU model, model, framework, mode,
    precision, batch and layout)."""
    ratio: float
    """images_per_second / median."""
    peers: int
    """How many runs (this one included) the median is over."""
    robust_z: float
    """(images_per_second - median) / (1.4826 × the median absolute deviation); very negative
    is slow."""


@dataclass(frozen=True, kw_only=True)
class Unreadable:
    """A node report that could not be used, and why."""

    node: str
    path: str
    error: str


@dataclass(frozen=True, kw_only=True)
class NotReached:
    """A node ``fleet run`` did not get a report from, with its SLURM state and reason."""

    node: str
    state: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class FleetRun:
    """One ``fleet run`` that checked some of the nodes, as the folder's manifest records it:
    ``fleet run --force`` on a subset keeps an earlier run's word on the other nodes."""

    created_at: str
    """When the run was made (UTC), as its manifest says."""
    gpudoctor_version: str
    """The gpudoctor that ran it."""
    command: tuple[str, ...] = ()
    """The check command run on each node."""
    verify_command: tuple[str, ...] | None = None
    """The verify command run after the check (``fleet run --verify``); None without one, or
    in a manifest written before it was recorded."""
    nodes: tuple[str, ...] = ()
    """The nodes whose manifest entry and files are this run's: checked, or not reached, by
    it and by no later run."""
    hostlist: str = ""
    """``nodes`` in hostlist notation."""
    path: str = ""
    """The manifest that records the run."""


@dataclass(frozen=True, kw_only=True)
class CheckSpan:
    """When the node reports read were checked: the nodes table and the pairs may be of
    different days, and a node whose report is much older than the rest is named."""

    oldest: str
    """The oldest node report's check time, UTC (``2026-12-01T02:00:00Z``)."""
    newest: str
    """The newest one's."""
    stale: tuple[str, ...] = ()
    """Nodes whose report was checked more than ``stale_after_h`` hours before the newest."""
    stale_hostlist: str = ""
    """``stale`` in hostlist notation."""
    stale_after_h: float
    """The threshold, in hours before the newest report: 24, or ``fleet report --stale-after``'s."""
    undated: int = 0
    """Node reports with no readable check time (not counted in the span)."""


@dataclass(frozen=True, kw_only=True)
class FleetReport:
    """The whole fleet: per node, grouped, findings across nodes, drift and outliers."""

    schema_version: int = FLEET_SCHEMA_VERSION
    gpudoctor_version: str
    """The gpudoctor that made the report."""
    created_at: str
    """When the report was made: ISO 8601, UTC (``2026-12-07T04:05:06Z``)."""
    nodes: tuple[NodeSummary, ...]
    groups: tuple[NodeGroup, ...]
    findings: tuple[FleetFinding, ...]
    drift: tuple[Drift, ...]
    outliers: tuple[Outlier, ...]
    unreadable: tuple[Unreadable, ...]
    not_reached: tuple[NotReached, ...]
    verify: tuple[VerifyOutcome, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    pairs: PairsReport | None = None
    """``fleet pairs``' analysis (``pairs/pairs.json`` in a folder read), None without one."""
    pairs_path: str = ""
    runs: tuple[FleetRun, ...] = ()
    """The ``fleet run``s whose manifests (fleet-run.json) were read, oldest first within each
    manifest: after ``fleet run --force`` on a subset, which run's word each node's is (its
    time, gpudoctor and commands). One entry for a folder of one run; empty when no manifest
    was read."""
    checked: CheckSpan | None = None
    """When the node reports were checked, and the stale ones; None without a dated one."""

    @property
    def verify_only(self) -> tuple[VerifyOutcome, ...]:
        """Verify results of nodes that have no check report here."""
        checked = {n.node for n in self.nodes}
        return tuple(v for v in self.verify if v.node not in checked)

    @property
    def healthy(self) -> bool:
        """No error on any node (verify's fail included), every node reached and readable."""
        return (
            all(n.verdict < Severity.ERROR for n in self.nodes)
            and all(v.verdict is not VerifyVerdict.FAIL for v in self.verify)
            and not self.not_reached
            and not self.unreadable
            and (self.pairs is None or not (self.pairs.bad_nodes or self.pairs.bad_links))
        )
