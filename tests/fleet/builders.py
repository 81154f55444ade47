"""Node facts and throughput samples for the fleet's pure tests, changed one field at a time."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from gpudoctor.model.findings import Severity
from gpudoctor.model.fleet import GpuFacts, NodeFacts, NodeFinding, NodeStack, Throughput

STACK_FIELDS = {f.name for f in fields(NodeStack)}


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


def changed(facts: NodeFacts, **changes: Any) -> NodeFacts:
    """``facts`` with fields changed, a stack's (``driver=``) as well as the node's own;
    ``frameworks`` may be given as a dict."""
    stack = {k: changes.pop(k) for k in list(changes) if k in STACK_FIELDS}
    if isinstance(stack.get("frameworks"), dict):
        stack["frameworks"] = tuple(sorted(stack["frameworks"].items()))
    return replace(facts, stack=replace(facts.stack, **stack), **changes)


def node(name: str, gpus: int = 8, **changes: Any) -> NodeFacts:
    base = NodeFacts(
        node=name,
        verdict=Severity.OK,
        stack=NodeStack(
            gpu_model="NVIDIA H100 80GB HBM3",
            gpu_count=gpus,
            driver="570.124.06",
            cuda_driver="12.8",
            cudnn="9.1.0",
            frameworks=(("torch", "2.5.1+cu124 (CUDA 12.4, cuDNN 9.1.0)"),),
        ),
        kernel_module="570.124.06",
        os="Ubuntu 22.04.4 LTS",
        kernel="5.15.0-119-generic",
        gpus=tuple(gpu(i) for i in range(gpus)),
    )
    return changed(base, **changes)


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
    worst = max((f.severity for f in findings), default=Severity.OK)
    return replace(
        facts,
        verdict=worst if worst >= Severity.WARNING else Severity.OK,
        findings=findings,
        finding_ids=tuple(sorted({f.id for f in findings})),
    )
