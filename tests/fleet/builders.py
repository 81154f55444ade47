"""Node facts and throughput samples for the fleet's pure tests, changed one field at a time."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gpudoctor.model.fleet import GpuFacts, NodeFacts, NodeFinding, Throughput


def gpu(index: int, **changes: Any) -> GpuFacts:
    base = GpuFacts(
        index=index,
        name="NVIDIA H100 80GB HBM3",
        memory_total_mib=81559,
        pcie_gen=5,
        pcie_gen_max=5,
        pcie_width=16,
        pcie_width_max=16,
        power_limit_w=700.0,
        sm_clock_max_mhz=1980,
        ecc_enabled=True,
        mig_enabled=False,
        persistence_mode=True,
    )
    return replace(base, **changes)


def node(name: str, gpus: int = 8, **changes: Any) -> NodeFacts:
    base = NodeFacts(
        node=name,
        verdict="ok",
        gpu_model="NVIDIA H100 80GB HBM3",
        gpu_count=gpus,
        driver="570.124.06",
        kernel_module="570.124.06",
        cuda_driver="12.8",
        cudnn="9.1.0",
        os="Ubuntu 22.04.4 LTS",
        kernel="5.15.0-119-generic",
        frameworks={"torch": "2.5.1+cu124 (CUDA 12.4, cuDNN 9.1.0)"},
        gpus=tuple(gpu(i) for i in range(gpus)),
    )
    return replace(base, **changes)


def run(node_name: str, ips: float, device: str = "cuda:0", **changes: Any) -> Throughput:
    base = Throughput(
        node=node_name,
        device=device,
        device_name="NVIDIA H100 80GB HBM3" if device != "cpu" else "cpu",
        model="resnet50",
        framework="torch",
        mode="inference",
        precision="amp-fp16",
        batch_size=256,
        images_per_second=ips,
    )
    return replace(base, **changes)


def with_findings(facts: NodeFacts, *findings: NodeFinding) -> NodeFacts:
    """``facts`` with these findings, their IDs and the verdict they give (info reads ok)."""
    order = {"error": 0, "warning": 1}
    worst = min((f.severity for f in findings), key=lambda s: order.get(s, 9), default="ok")
    return replace(
        facts,
        verdict=worst if worst in order else "ok",
        findings=findings,
        finding_ids=tuple(sorted({f.id for f in findings})),
    )
