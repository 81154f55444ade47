"""The reports the golden tests render: every recorded report, plus two built here."""

from __future__ import annotations

from pathlib import Path

from gpudoctor.model.report import GpuProcess, Report
from gpudoctor.model.serialize import load_report
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


BUILT = {"builder__healthy": b.healthy, "builder__many_problems": many_problems}


def scenario_names() -> list[str]:
    """Recorded reports by file stem, then the built ones."""
    return sorted(p.stem for p in REPORTS.glob("*.json")) + sorted(BUILT)


def load(name: str) -> Report:
    if name in BUILT:
        return BUILT[name]()
    return load_report(REPORTS / f"{name}.json")
