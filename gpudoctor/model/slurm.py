"""A SLURM node as sinfo lists it, its GPU GRES, the GPUs a job was given, and the mark on every
drain gpudoctor sets (pure, no I/O)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from gpudoctor.model.report import Report, SlurmCluster, SlurmPartition

DRAIN_PREFIX = "gpudoctor:"
"""Every drain reason gpudoctor writes for a drain its gate may undo starts so, in every version
(``gpudoctor: GD-GPU-068 ...`` before 2026-12-08), so that an older gpudoctor's gate resumes a
drain of this one's (a drain for repair starts REPAIR_PREFIX)."""
REPAIR_PREFIX = "repair:"
"""A drain that sends a GPU for repair (an Xid whose action is so) starts so, never
``gpudoctor:``: no health gate, of this version or an older one, resumes such a node. The gate
would find it clean once the Xids leave the kernel log's window or a reboot clears the log, and
put the GPU back in service unrepaired."""
SINFO_REASON_WIDTH = 20
"""``sinfo -R`` shows this many characters of a reason (its default format is
``%20E %9u %19H %N``, man sinfo): the prefix and the finding's ID fit in them."""
MAX_REASON = 200
"""SLURM keeps the whole reason, but sinfo's columns and admins' eyes do not."""
_QUOTE = {'"': "'", "`": "'"}


def reason_id(finding_id: str) -> str:
    """``GD-NVML-003`` -> ``NVML-003``: the finding's ID as a drain reason names it. The longest
    IDs of the areas the gate drains on (``GD-NVML-NNN``) have 11 characters, one more than
    ``gpudoctor:`` leaves of sinfo's 20; without ``GD-`` every ID fits (``explain NVML-003``
    reads it as it is)."""
    return finding_id.removeprefix("GD-")


def drain_reason(finding_id: str, title: str, more: int = 0, *, repair: bool = False) -> str:
    """``gpudoctor:GPU-004 <title>`` on one line, short enough for sinfo: the reason the health
    gate drains with, and the one every drain command gpudoctor prints names. The first 20
    characters, all ``sinfo -R`` shows, hold the prefix and the finding's ID. ``repair``:
    ``repair:GPU-058 <title>``, a drain until a person has the GPU repaired."""
    extra = f" (+{more} more)" if more else ""
    prefix = REPAIR_PREFIX if repair else DRAIN_PREFIX
    text = f"{prefix}{reason_id(finding_id)} {' '.join(title.split())}"
    room = MAX_REASON - len(extra)
    if len(text) > room:
        text = text[: room - 1] + "…"
    # scontrol drops a '"' that ends (or starts) the reason, and a backquote ends the code span
    # the fleet report shows a drain command in: a title's double quotes and backquotes become
    # single quotes
    return "".join(_QUOTE.get(ch, ch) if ch.isprintable() else " " for ch in text) + extra


def asks_repair(fix: Sequence[str]) -> bool:
    """Whether a finding's fix drains its node for repair (:func:`drain_command` with
    ``repair``: GD-GPU-058's Xid storm, GD-GPU-056's Xid whose action is a repair), so that the
    health gate drains with that reason too, and never resumes the node itself."""
    return any(f"reason='{REPAIR_PREFIX}" in line for line in fix)


_OURS = re.compile(r"gpudoctor:(?: GD-)?[A-Z]+-[0-9]{3}(?: |$)")
"""A reason drain_reason wrote: ``gpudoctor:GPU-068 ...``, or ``gpudoctor: GD-GPU-068 ...``
as every gpudoctor before 2026-12-08 wrote it."""
OLD_FIX_REASONS = frozenset({"gpudoctor: GRES GPUs absent"})
"""Reasons an older gpudoctor's fix told to drain with, outside drain_reason's form (GD-DRV-001's
before 2026-12-08): a node drained so is resumed as before."""


def drained_by_gpudoctor(reason: str) -> bool:
    """Whether gpudoctor wrote this drain reason (the gate or a fix's command, of this version
    or an older one), so that the gate may resume the node; never a reason someone wrote by
    hand, even one that starts ``gpudoctor:``."""
    return reason in OLD_FIX_REASONS or _OURS.match(reason) is not None


NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
"""One node's name (use ``fullmatch``): letters, digits, ``.``, ``_``, ``-``, at most 253
characters, as DNS allows; no hostlist syntax, ``=``, space or control character, and a safe
file name too (no path separator, no leading dot)."""
HOSTLIST = re.compile(r"[A-Za-z0-9._,\[\]-]+")
"""Node names as a hostlist (``n[1-2],gpu01``): one node's name's characters, brackets and
commas (use ``fullmatch``)."""
UNNAMED_NODE = "NODE"
"""A drain command's node where the report names none a shell passes on as it is: a word to
replace (not ``$(hostname -s)``, which drains whichever machine the command is pasted on, the
login node for a fleet report or a saved one)."""


def node_to_drain(report: Report) -> str:
    """SLURM's name for the node a report is of, for a drain command a fix prints, as the health
    gate picks it: ``SLURMD_NODENAME`` in a job, sinfo's name for this node, else the short
    host name."""
    site = report.site
    job_node = site.slurm_job.node if site and site.slurm_job else None
    sinfo_node = site.slurm_node.name if site and site.slurm_node else None
    return job_node or sinfo_node or report.host.hostname.split(".")[0]


def node_word(node: str) -> str:
    """``node`` as a command names it: as given where it is one node's name, else ``NODE``, the
    word to replace (a redacted report's ``<redacted>``, ``n1; reboot``, or ``$(hostname -s)``,
    which the shell would expand to whichever machine the command is pasted on)."""
    return node if NODE_NAME.fullmatch(node) else UNNAMED_NODE


def drain_command(node: str, finding_id: str, title: str, *, repair: bool = False) -> str:
    """``sudo scontrol update nodename=NODE state=drain reason='gpudoctor:GPU-068 ...'``: the
    reason the health gate sets for this finding alone, in single quotes, where a shell expands
    nothing: in double quotes an interactive bash still history-expands ``!`` (a title's
    ``!!`` becomes the command before; ``!lost``: "event not found", and nothing runs). A
    ``'`` in the reason (``node's``) closes the quotes, stands escaped and opens them again
    (``node'\\''s``); ``sinfo -R`` shows the reason as it is. ``node`` as :func:`node_word`
    names it. ``repair``: the reason a person clears (drain_reason's)."""
    reason = drain_reason(finding_id, title, repair=repair).replace("'", "'\\''")
    return f"sudo scontrol update nodename={node_word(node)} state=drain reason='{reason}'"


# sinfo's long state names of a node that can start a job step now or soon (the suffixes *~#!%$@^-
# mark not responding, powered down, and so on, and are handled apart).
RUNNABLE_STATES = frozenset({"idle", "mixed", "allocated", "completing", "planned"})
FLAG_CHARS = "*~#!%$@^-"


@dataclass(frozen=True, kw_only=True)
class SlurmNode:
    """One node as sinfo lists it."""

    name: str
    state: str
    """The long state sinfo gives (``idle``, ``drained``, ``down*``, ``mixed+drain`` ...)."""
    reason: str = ""
    partitions: tuple[str, ...] = ()

    @property
    def runnable(self) -> bool:
        """Whether a job step can start there now (not drained, down or unresponsive)."""
        flags = set(self.state) & set(FLAG_CHARS)
        base = self.state.rstrip(FLAG_CHARS)
        return not flags & {"*", "~", "#", "!", "%"} and base in RUNNABLE_STATES

    @property
    def drained(self) -> bool:
        """Drained or draining: the scheduler starts nothing new there."""
        return "drain" in self.state


# ``gpu``, ``gpu:8``, ``gpu:h100:8(S:0-1)``; not another resource that starts so (``gpumem``)
_GPU_GRES = re.compile(r"^gpu(?=$|[:(])(?::([^:(]+))?(?::([0-9]+))?")
_MAX_COUNT_DIGITS = 18
"""A longer count (a hostile report's) is no count SLURM writes, and int() refuses more than
4,300 digits: read as a GRES that names no count."""


def gpu_gres(gres: str) -> tuple[str | None, int | None] | None:
    """``gpu:h100:8(S:0-1)`` -> ``("h100", 8)``, ``gpu:8`` -> ``(None, 8)``; None if no GPU."""
    match = _GPU_GRES.match(gres)
    if match is None:
        return None
    kind, count = match.group(1), match.group(2)
    if kind is not None and kind.isascii() and kind.isdigit() and count is None:
        kind, count = None, kind  # not "gpu:²", which str.isdigit() takes and int() refuses
    return kind, int(count) if count and len(count) <= _MAX_COUNT_DIGITS else None


@dataclass(frozen=True, kw_only=True)
class NodeGpuGres:
    """The GPUs one node's GRES gives out: ``gpu:a100:4,gpu:v100:2`` -> 6 of a100 and v100."""

    count: int | None
    """Their sum; None when an entry names no count (``gpu`` alone)."""
    shown: str
    """The GPU entries as SLURM writes them, socket bindings left out: ``gpu:h100:8``."""
    types: tuple[str, ...] = ()


def node_gpu_gres(gres: Sequence[str]) -> NodeGpuGres | None:
    """The GPU part of a node's GRES list (``gpu:h100:8(S:0-1)``, ``nic:2`` ...); None if none."""
    entries = [(g.split("(", 1)[0], gpu_gres(g)) for g in gres]
    gpu = [(text, found) for text, found in entries if found is not None]
    if not gpu:
        return None
    counts = [count for _, (_, count) in gpu]
    total = None if any(c is None for c in counts) else sum(c for c in counts if c is not None)
    types = tuple(dict.fromkeys(kind for _, (kind, _) in gpu if kind))
    return NodeGpuGres(count=total, shown=",".join(text for text, _ in gpu), types=types)


def gpu_partitions(cluster: SlurmCluster | None) -> list[SlurmPartition]:
    """The partitions whose nodes offer a ``gpu`` GRES, the default partition first."""
    if cluster is None:
        return []
    found = [p for p in cluster.partitions if any(gpu_gres(g) for g in p.gres)]
    return sorted(found, key=lambda p: not p.default)


GPU_LISTS = ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS")
"""The job variables that list GPU indexes, where 0 is a GPU and not a count."""


def gpus_given(variables: Mapping[str, str]) -> dict[str, str]:
    """Those of a job's GPU variables (``SLURM_STEP_GPUS``, ``SLURM_GPUS_ON_NODE``, ...) that
    say SLURM gave it GPUs: a GPU list (``SLURM_STEP_GPUS=0`` is GPU 0), a count other than 0,
    a ``SLURM_TRES_PER_TASK`` naming ``gpu``. Newer SLURM releases put ``--cpus-per-task`` into
    ``SLURM_TRES_PER_TASK`` too (``cpu=4``): a CPU job's, which counted as given GPUs."""
    given = {}
    for name, raw in variables.items():
        value = raw.strip()
        if value in ("", "N/A", "(null)"):
            continue
        if name == "SLURM_TRES_PER_TASK" and "gpu" not in value:
            continue
        if name not in GPU_LISTS and value == "0":
            continue
        given[name] = value
    return given


@dataclass(frozen=True, kw_only=True)
class GpuCounts:
    """A node's GPUs, counted where a job's device cgroup cannot hide them, against its GRES."""

    owned: int
    """GPUs the nvidia driver owns: bound to it on the PCI bus, or in /proc/driver/nvidia/gpus
    (the larger)."""
    nvml: int | None = None
    """GPUs NVML lists (lost ones included) where its count is the node's; None where NVML
    failed or may have been shown a share (a job given GPUs, a device cgroup hiding all)."""
    mig_devices: int | None = None
    """With MIG on, what SLURM's AutoDetect=nvml counts (each MIG device, each whole GPU
    without MIG); None without MIG, or where the MIG devices were not all read."""
    excluded: int = 0
    """Of the GPUs the driver owns, those it excluded on purpose (``NVreg_ExcludedGpus``):
    NVML does not list them, and they are not lost."""

    @property
    def usable(self) -> int:
        """The GPUs a job can be given: NVML's where known, else the driver's."""
        return self.owned if self.nvml is None else self.nvml

    @property
    def lost(self) -> int:
        """GPUs the driver owns that NVML does not list: their /dev/nvidiaN files remain, and
        gres.conf may name them, so a job can be given one."""
        return 0 if self.nvml is None else max(self.owned - self.excluded - self.nvml, 0)


GresJudgement = Literal["missing", "lost", "extra", "mig"]
"""``missing``: the GRES gives out more GPUs than the node has (an error: drain it);
``lost``: the driver owns GPUs NVML does not list, and the GRES gives out some (an error:
a job may get one of them); ``extra``: more GPUs than the GRES gives out (a warning: SLURM
cannot hand them out); ``mig``: with MIG on, between the whole GPUs and SLURM's count of MIG
devices (not compared)."""


def judge_gres(given: int, counts: GpuCounts) -> GresJudgement | None:
    """What ``given`` GPUs in a node's GRES are against the GPUs it has; None when they match.

    The one decision for check's GD-GPU-068 (and so the health gate) and the fleet's.
    """
    usable = counts.usable
    match = {usable} if counts.mig_devices is None else {usable, counts.mig_devices}
    if given > max(match):
        return "missing"
    if counts.lost and given > 0:
        return "lost"
    if given in match:
        return None
    if given < min(match):
        return "extra"
    return "mig"
