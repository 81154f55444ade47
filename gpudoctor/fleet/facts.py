"""What the fleet keeps of one node: its report and diagnosis cut down to comparable facts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.derived import (
    excluded_gpus,
    gpus,
    is_gpu_function,
    missing_from_nvml,
    node_gpu_count,
    nvml_sees_the_node,
    owned_gpu_function,
    pci_address,
    pci_bus_unreadable,
)
from gpudoctor.model.diff import samples_from_verify
from gpudoctor.model.facts import GPU_FLEET_FIELDS, fleet_facts, gpu_value, report_facts
from gpudoctor.model.findings import Diagnosis, Finding, Severity
from gpudoctor.model.fleet import (
    GpuFacts,
    GpusFound,
    NodeFacts,
    NodeFinding,
    NodeStack,
    Throughput,
    VerifyVerdict,
)
from gpudoctor.model.report import GpuInfo, Report
from gpudoctor.model.slurm import UNNAMED_NODE, node_word

_SHELL_NODES = ("$(hostname -s)", "$SLURMD_NODENAME")
"""How a drain in a report written before 2026-12-08 named the node it was run on."""


def node_facts(
    node: str, report: Report, diagnosis: Diagnosis, partitions: tuple[str, ...] = ()
) -> NodeFacts:
    """The comparable facts of one node's report and the findings today's rules gave it.

    The values come from the one list of facts (model/facts.py) that ``diff`` compares too:
    each whole-node fact a fleet compares has a fleet name there.
    """
    listed = gpus(report)
    names = sorted({g.name for g in listed if g.name})
    known = {f.fleet: f.value for f in fleet_facts(report_facts(report, whole_node=True))}
    frameworks = {
        name.removeprefix("framework."): value or ""
        for name, value in known.items()
        if name is not None and name.startswith("framework.")
    }
    # The "no problem found" markers (severity ok) say nothing a fleet needs to compare.
    found = [f for f in diagnosis.findings if f.severity > Severity.OK]
    return NodeFacts(
        node=node,
        # Information (TensorFlow absent, say) is nothing to act on: such a node reads ok.
        verdict=diagnosis.worst if diagnosis.worst >= Severity.WARNING else Severity.OK,
        finding_ids=tuple(sorted({f.id for f in found})),
        findings=tuple(
            NodeFinding(
                id=f.id,
                severity=f.severity,
                title=f.title,
                evidence=(*f.evidence, *drains(f, node)),
            )
            for f in sorted(found, key=lambda f: (f.id, f.title))
        ),
        stack=NodeStack(
            gpu_model=" + ".join(names) if names else None,
            gpu_count=len(listed),
            driver=known.get("driver_version"),
            cuda_driver=known.get("cuda_driver_version"),
            cudnn=known.get("cudnn"),
            frameworks=tuple(sorted(frameworks.items())),
        ),
        kernel_module=known.get("kernel_module_version"),
        os=known.get("os"),
        kernel=known.get("kernel"),
        gpus=tuple(gpu_facts(g) for g in listed if not g.lost),
        partitions=partitions,
        ib_rates=known.get("infiniband"),
        acs_redirect=known.get("acs_redirect"),
        gpus_found=gpus_found(report, refused=diagnosis.refused_pci),
        checked_at=report.created_at,
    )


_DRAIN = re.compile(r"(?<= scontrol update nodename=)(\$\(hostname -s\)|\S+)(?= state=drain )")
"""The node a drain command (model/slurm.drain_command's) names."""


def drains(finding: Finding, node: str) -> tuple[str, ...]:
    """The steps of ``finding``'s fix that drain the node (GD-GPU-058's repair drain,
    GD-GPU-070's, GD-DRV-001's, check's GD-GPU-068's) as ``fix: ...`` lines of the fleet's
    evidence, the command a code span, as fleet/gres.py's fix has it: the fleet report showed
    none of them, and an admin reading it had no command to take the nodes out of service.

    Where the command names this node (or ``NODE``, a redacted report's, or what a shell
    expands, which on the login node is the login node) it names ``NODE``, which the fleet
    report makes the hostlist of the nodes it lists the finding for: one command for them all.
    """
    own = {node_word(node), UNNAMED_NODE, *_SHELL_NODES}
    lines = []
    for step in finding.fix:
        if not _DRAIN.search(step):
            continue
        named = _DRAIN.sub(lambda m: UNNAMED_NODE if m[1] in own else m[1], step)
        prose, dollar, command = named.partition("$ ")
        command, _, note = command.partition("   # ")
        # drain_command's reason holds no backquote (drain_reason): the span ends at its end
        span = f"{prose}`{command.strip()}`" + (f" ({note.strip()})" if note else "")
        lines.append("fix: " + (span if dollar else named))
    return tuple(lines)


def gpus_found(report: Report, *, refused: tuple[str, ...] = ()) -> GpusFound | None:
    """The GPUs on the node's PCI bus and in its driver (a job's cgroup hides neither), and
    with MIG on what SLURM would count; None where the PCI bus was not read. ``refused``: the
    PCI addresses of the GPUs the installed driver cannot drive (the diagnosis's)."""
    host = report.host
    if host.os != "linux" or host.wsl or pci_bus_unreadable(report):
        return None
    functions = report.driver.pci_functions
    listed = [g for g in gpus(report) if not g.lost]
    owned = node_gpu_count(report)
    mig = any(g.mig_enabled for g in listed)
    # SLURM's count with MIG is known only when NVML listed every GPU and their devices
    known = (
        mig
        and len(listed) >= owned
        and not any(g.mig_enabled and not g.mig_devices for g in listed)
    )
    return GpusFound(
        on_bus=sum(1 for fn in functions if is_gpu_function(fn)),
        bound=sum(1 for fn in functions if owned_gpu_function(fn)),
        driver=len(report.site.driver_gpus) if report.site else None,
        module_loaded=bool(report.driver.module_version or report.driver.proc_version_line),
        mig=mig,
        mig_devices=(
            sum(len(g.mig_devices) if g.mig_enabled else 1 for g in listed) if known else None
        ),
        nvml=(nvml := _nvml_count(report)),
        lost_pci=(lost := tuple(missing_from_nvml(report)) if nvml is not None else ()),
        excluded_pci=tuple(a for a in lost if pci_address(a) in set(excluded_gpus(report))),
        refused_pci=tuple(a for a in lost if pci_address(a) in set(refused)),
    )


def _nvml_count(report: Report) -> int | None:
    """NVML's count where it is the node's; None where a job's device cgroup may have hidden
    every GPU (a job given none, NVML listing none)."""
    if not nvml_sees_the_node(report):
        return None
    listed = len(gpus(report))
    in_job = report.site is not None and report.site.slurm_job is not None
    return None if in_job and listed == 0 else listed


def gpu_facts(g: GpuInfo) -> GpuFacts:
    """The facts of one GPU a fleet compares with its siblings (model/facts.py names them)."""
    values: dict[str, Any] = {field: gpu_value(g, field) for _, field in GPU_FLEET_FIELDS}
    return GpuFacts(index=g.index, name=g.name, **values)


def is_verify_result(data: Any) -> bool:
    """Whether parsed JSON is a ``gpudoctor verify --format json`` result."""
    return isinstance(data, Mapping) and (
        data.get("tool") == "gpudoctor verify" or ("runs" in data and "verdict" in data)
    )


def verify_verdict(data: Mapping[str, Any], where: str) -> VerifyVerdict:
    """A verify result's overall verdict: ``pass``, ``warn`` or ``fail``."""
    verdict = data.get("verdict")
    if not isinstance(verdict, str) or verdict not in {v.value for v in VerifyVerdict}:
        shown = repr(verdict)[:40]
        raise ReportFormatError(f"{where}: verdict: expected pass, warn or fail, not {shown}")
    return VerifyVerdict(verdict)


REASONS_SHOWN = 2
"""How many of a verify result's reasons its fleet line quotes (the file has them all)."""


def verify_reason(data: Mapping[str, Any], verdict: VerifyVerdict) -> str:
    """Why a verify result did not pass: the messages of its reasons at its verdict's level
    (a fail's failures, a warn's warnings), the first :data:`REASONS_SHOWN` of them; "" for
    a pass."""
    if verdict is VerifyVerdict.PASS:
        return ""
    reasons = data.get("reasons")
    messages = [
        " ".join(r["message"].split())
        for r in (reasons if isinstance(reasons, list) else ())
        if isinstance(r, dict)
        and r.get("level") == verdict.value
        and isinstance(r.get("message"), str)
        and r["message"].strip()
    ]
    shown = "; ".join(messages[:REASONS_SHOWN])
    more = len(messages) - REASONS_SHOWN
    return f"{shown} (and {more} more in the file)" if more > 0 else shown


def throughput(node: str, data: Mapping[str, Any], where: str) -> tuple[Throughput, ...]:
    """The timed GPU and CPU runs of one verify result (main runs that finished).

    Parsed as ``gpudoctor diff`` parses them (model.diff.samples_from_verify).
    """
    return tuple(
        Throughput(
            node=node,
            device=s.device,
            device_name=s.device_name,
            model=s.model,
            framework=s.framework,
            mode=s.mode,
            precision=s.precision,
            batch_size=s.batch_size,
            images_per_second=s.images_per_second,
            layout=s.layout or None,
        )
        for s in samples_from_verify(data, where)
    )
