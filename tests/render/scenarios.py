"""The reports the golden tests render: every recorded report, plus two built here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gpudoctor.model.report import FrameworkInfo, GpuProcess, Report
from gpudoctor.probe.child import hung_message
from gpudoctor.userfiles.read import load_report
from tests.render.site_scenarios import SITE_SCENARIOS
from tests.rules import builders as b

DATA = Path(__file__).resolve().parents[1] / "data"
REPORTS = DATA / "reports"
EXPECTED = DATA / "expected"


def many_problems() -> Report:
    """One of each kind of line: an error, warnings, information, a markup-like string."""
    report = b.with_env(b.healthy(), CUDA_LAUNCH_BLOCKING="1", CUDA_VISIBLE_DEVICES="0,[bold]")
    report = b.with_gpu(
        report,
        clock_event_reasons=0x40,
        utilization_gpu_pct=99,
        pcie_gen=3,
        memory_used_mib=80000,
        persistence_mode=False,
        processes=(GpuProcess(pid=4242, name="<python>", used_memory_mib=79000),),
    )
    return b.with_framework(report, "torch", cuda_build=False, version="2.9.1+cpu", devices=())


def cpu_only_job() -> Report:
    """A CPU-only CI container: CUDA_VISIBLE_DEVICES empty on purpose, a slow torch import."""
    report = b.with_env(b.no_gpu_machine(container="docker"), CUDA_VISIBLE_DEVICES="")
    stopped = FrameworkInfo(
        name="torch",
        status="timeout",
        message=hung_message("import torch (and a tiny GPU computation)", 1, abandoned=False),
        duration_s=1.0,
    )
    others = tuple(f for f in report.frameworks if f.name != "torch")
    return replace(report, frameworks=(stopped, *others))


def pcie_acs_needs_root() -> Report:
    """Two PCIe GPUs behind a switch, checked without root: ACS could not be read."""
    return b.pcie_acs_box(control=None, status="needs_root")


BUILT = {
    "builder__cpu_only_job": cpu_only_job,
    "builder__healthy": b.healthy,
    "builder__many_problems": many_problems,
    "builder__pcie_acs_redirect": b.pcie_acs_box,
    "builder__pcie_acs_needs_root": pcie_acs_needs_root,
    "builder__mac_mps": b.mac,
    "builder__mac_no_mps": lambda: b.mac(mps_devices=0),
    "builder__rocm": b.rocm_machine,
    "builder__xpu": b.xpu_machine,
    "builder__windows_laptop": b.windows_laptop,
    **SITE_SCENARIOS,
}


def scenario_names() -> list[str]:
    """Recorded reports by file stem, then the built ones."""
    return sorted(p.stem for p in REPORTS.glob("*.json")) + sorted(BUILT)


def load(name: str) -> Report:
    if name in BUILT:
        return BUILT[name]()
    return load_report(REPORTS / f"{name}.json")
