"""Fleets for the HTML dashboard's tests and screenshots: healthy, troubled, and 64 nodes."""

from __future__ import annotations

from gpudoctor.fleet.aggregate import aggregate
from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import (
    FleetReport,
    NodeFinding,
    NotReached,
    Unreadable,
    VerifyOutcome,
    VerifyVerdict,
)
from tests.fleet.builders import changed, gpu, node, run, with_findings

# No [ ] or , in a node name: the hostlist notation cannot hold them (aggregation refuses).
HOSTILE_NAME = 'evil"><script>alert(1)</script><img src=x onerror=alert(2)>\x1b\u202e'
CELL = '<td class="ok" onclick=alert(3)>x'  # text that looks like a cell is not one
HOSTILE_TEXT = HOSTILE_NAME + "\x1b[2J\x07 & <style>body{display:none}</style>"
NAMES = {
    "GD-GPU-004": "A GPU has uncorrectable ECC errors",
    "GD-GPU-010": "A GPU runs below its PCIe width",
    "GD-FW-003": 'torch <b>"can\'t"</b> see cuDNN</td></tr></table><h1>x',
}


def found(fid: str, severity: Severity, title: str) -> NodeFinding:
    return NodeFinding(id=fid, severity=severity, title=title)


def healthy() -> FleetReport:
    """Eight like nodes and nothing wrong."""
    return aggregate(
        [node(f"gpu-{i:03d}", partitions=("gpu",)) for i in range(1, 9)],
        names=NAMES,
        gpudoctor_version="0.1.0",
        created_at="2026-12-04T12:00:00Z",
    )


def troubled() -> FleetReport:
    """Every kind of problem, with hostile strings wherever a report can put one."""
    nodes = [node(f"gpu-{i:03d}", partitions=("gpu",)) for i in range(1, 11)]
    nodes[1] = with_findings(
        nodes[1], found("GD-GPU-004", Severity.ERROR, "GPU 3 has uncorrectable ECC errors")
    )
    nodes[2] = with_findings(
        nodes[2],
        found("GD-GPU-010", Severity.WARNING, "GPU 2 runs at PCIe x8 of x16"),
        found("GD-FW-003", Severity.WARNING, NAMES["GD-FW-003"]),
    )
    nodes[3] = with_findings(nodes[3], found("GD-FW-003", Severity.WARNING, HOSTILE_TEXT))
    nodes[4] = changed(nodes[4], driver="535.104.05", kernel_module="535.104.05")
    gpus = list(nodes[5].gpus)
    gpus[2] = gpu(2, pcie_width=8)
    nodes[5] = changed(nodes[5], gpus=tuple(gpus))
    nodes[6] = changed(nodes[6], node=HOSTILE_NAME, frameworks={"torch": HOSTILE_TEXT})
    nodes[7] = changed(nodes[7], node=CELL)
    throughput = [run(f"gpu-{i:03d}", 3000 + 7 * i) for i in range(1, 10)]
    throughput.append(run("gpu-010", 1700))
    return aggregate(
        nodes,
        names=NAMES,
        throughput=throughput,
        unreadable=[Unreadable(node="gpu-012", path=f"r/{HOSTILE_NAME}.json", error="not JSON")],
        verify=[
            VerifyOutcome(
                node="gpu-009", verdict=VerifyVerdict.FAIL, path=f"verify/{HOSTILE_NAME}.json"
            )
        ],
        not_reached=[
            NotReached(node="gpu-011", state="drained", reason=HOSTILE_TEXT),
            NotReached(node="gpu-013", state="down", reason=CELL),
        ],
        gpudoctor_version="0.1.0",
        created_at="2026-12-04T12:00:00Z",
    )


def big(count: int = 64) -> FleetReport:
    """A 64-node fleet across two GPU models: an error, a warning, drift, one not reached."""
    nodes = [node(f"gpu-{i:03d}", partitions=("gpu",)) for i in range(1, count // 2 + 1)]
    nodes += [
        node(
            f"a100-{i:03d}",
            partitions=("a100",),
            gpu_model="NVIDIA A100-SXM4-80GB",
            gpus=4,
            driver="550.90.07",
            kernel_module="550.90.07",
        )
        for i in range(1, count - count // 2)
    ]
    nodes[7] = with_findings(
        nodes[7], found("GD-GPU-004", Severity.ERROR, "GPU 3 has uncorrectable ECC errors")
    )
    nodes[40] = with_findings(
        nodes[40], found("GD-GPU-010", Severity.WARNING, "GPU 2 runs at PCIe x8 of x16")
    )
    for i in (3, 11, 19, 27):
        nodes[i] = changed(nodes[i], cudnn="9.0.0")
    return aggregate(
        nodes,
        names=NAMES,
        throughput=[run(n.node, 3000 + i) for i, n in enumerate(nodes[:32])],
        not_reached=[NotReached(node=f"a100-{count // 2:03d}", state="down", reason="Reboot")],
        gpudoctor_version="0.1.0",
        created_at="2026-12-04T12:00:00Z",
    )


PAGES = {"healthy": healthy, "troubled": troubled, "big": big}
