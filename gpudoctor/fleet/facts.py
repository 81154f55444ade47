"""What the fleet keeps of one node: its report and diagnosis cut down to comparable facts."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from gpudoctor.errors import ReportFormatError
from gpudoctor.model.derived import gpus
from gpudoctor.model.findings import Diagnosis, Severity
from gpudoctor.model.fleet import (
    GpuFacts,
    NodeFacts,
    NodeFinding,
    NodeStack,
    Throughput,
    VerifyVerdict,
)
from gpudoctor.model.report import FrameworkInfo, Report


def node_facts(
    node: str, report: Report, diagnosis: Diagnosis, partitions: tuple[str, ...] = ()
) -> NodeFacts:
    """The comparable facts of one node's report and the findings today's rules gave it."""
    listed = gpus(report)
    names = sorted({g.name for g in listed if g.name})
    # The "no problem found" markers (severity ok) say nothing a fleet needs to compare.
    found = [f for f in diagnosis.findings if f.severity > Severity.OK]
    return NodeFacts(
        node=node,
        # Information (TensorFlow absent, say) is nothing to act on: such a node reads ok.
        verdict=diagnosis.worst if diagnosis.worst >= Severity.WARNING else Severity.OK,
        finding_ids=tuple(sorted({f.id for f in found})),
        findings=tuple(
            NodeFinding(id=f.id, severity=f.severity, title=f.title, evidence=f.evidence)
            for f in sorted(found, key=lambda f: (f.id, f.title))
        ),
        stack=NodeStack(
            gpu_model=" + ".join(names) if names else None,
            gpu_count=len(listed),
            driver=report.nvml.driver_version,
            cuda_driver=report.nvml.cuda_driver_version,
            cudnn=_cudnn(report),
            # by name; a framework listed twice keeps its last entry, as a dict would
            frameworks=tuple(sorted({fw.name: _build(fw) for fw in report.frameworks}.items())),
        ),
        kernel_module=report.driver.module_version,
        os=report.host.os_release or report.host.os,
        kernel=report.host.kernel,
        gpus=tuple(
            GpuFacts(
                index=g.index,
                name=g.name,
                memory_total_mib=g.memory_total_mib,
                pcie_gen=g.pcie_gen,
                pcie_gen_max=g.pcie_gen_max,
                pcie_width=g.pcie_width,
                pcie_width_max=g.pcie_width_max,
                power_limit_w=g.power_limit_w,
                sm_clock_max_mhz=g.sm_clock_max_mhz,
                ecc_enabled=g.ecc_enabled,
                mig_enabled=g.mig_enabled,
                persistence_mode=g.persistence_mode,
                nvlinks_active=sum(1 for link in g.nvlinks if link.active) if g.nvlinks else None,
            )
            for g in listed
            if not g.lost
        ),
        partitions=partitions,
        ib_rates=ib_rates(report),
    )


def ib_rates(report: Report) -> str | None:
    """The rates of the active InfiniBand/RoCE ports, counted: ``400 Gb/s x8``."""
    ports = report.hardware.ib_ports if report.hardware is not None else ()
    rates = Counter(p.rate_gbps for p in ports if p.state == "ACTIVE" and p.rate_gbps)
    if not rates:
        return None
    return " + ".join(f"{rate:g} Gb/s x{n}" for rate, n in sorted(rates.items()))


def _cudnn(report: Report) -> str | None:
    """The cuDNN a framework really loaded, else the one it was built with, else the system's."""
    for fw in report.frameworks:
        if fw.status == "ok" and fw.cudnn_runtime:
            return fw.cudnn_runtime
    for fw in report.frameworks:
        if fw.status == "ok" and fw.build_cudnn:
            return fw.build_cudnn
    for lib in report.cuda.libraries:
        if lib.name == "cudnn" and lib.version:
            return lib.version
    return None


def _build(fw: FrameworkInfo) -> str:
    """``2.11.0+cu130 (CUDA 13.0, cuDNN 9.19.0)``; the status when it did not load."""
    if fw.status != "ok" or not fw.version:
        return fw.status.replace("_", " ")
    if not fw.cuda_build:
        return f"{fw.version} (CPU)"
    parts = [f"CUDA {fw.build_cuda}" if fw.build_cuda else "CUDA"]
    if fw.build_cudnn:
        parts.append(f"cuDNN {fw.build_cudnn}")
    return f"{fw.version} ({', '.join(parts)})"


def is_verify_result(data: Any) -> bool:
    """Whether parsed JSON is a ``gpudoctor verify --format json`` result."""
    return isinstance(data, Mapping) and (
        data.get("tool") == "gpudoctor verify" or ("runs" in data and "verdict" in data)
    )


def verify_verdict(data: Mapping[str, Any], where: str) -> VerifyVerdict:
    """A verify result's overall verdict: ``pass``, ``warn`` or ``fail``."""
    verdict = data.get("verdict")
    if verdict not in {v.value for v in VerifyVerdict}:
        shown = repr(verdict)[:40]
        raise ReportFormatError(f"{where}: verdict: expected pass, warn or fail, not {shown}")
    return VerifyVerdict(verdict)


def throughput(node: str, data: Mapping[str, Any], where: str) -> tuple[Throughput, ...]:
    """The timed GPU and CPU runs of one verify result (main runs that finished)."""
    runs = data.get("runs")
    if not isinstance(runs, list):
        raise ReportFormatError(f"{where}: runs: expected a list")
    found = []
    for i, run in enumerate(runs):
        if not isinstance(run, Mapping):
            raise ReportFormatError(f"{where}: runs[{i}]: expected an object")
        if run.get("status", "ok") != "ok" or run.get("role", "main") != "main":
            continue
        ips = run.get("images_per_second")
        if ips is None:
            continue
        try:
            value = float(ips)
            batch = int(run.get("batch_size", 0))
            sample = Throughput(
                node=node,
                device=str(run["device"]),
                device_name=str(run.get("device_name") or run["device"]),
                model=str(run["model"]),
                framework=str(run["framework"]),
                mode=str(run.get("mode", "inference")),
                precision=str(run.get("precision", "fp32")),
                batch_size=batch,
                images_per_second=value,
                layout=str(run["layout"]) if run.get("layout") else None,
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ReportFormatError(f"{where}: runs[{i}]: {exc}") from None
        if not math.isfinite(value) or value <= 0:
            raise ReportFormatError(f"{where}: runs[{i}].images_per_second: {ips!r}")
        found.append(sample)
    return tuple(found)
