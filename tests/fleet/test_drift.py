"""Drift: the majority value of each fact and the nodes or GPUs that differ from it."""

from __future__ import annotations

from dataclasses import replace

from gpudoctor.fleet.drift import find_drift
from tests.fleet.builders import changed, gpu, node


def by_fact(drifts):
    return {d.fact: d for d in drifts}


def test_a_uniform_fleet_has_no_drift():
    assert find_drift([node(f"gpu-{i:03d}") for i in range(1, 6)]) == ()


def test_one_node_on_another_driver_is_the_minority():
    nodes = [node(f"gpu-{i:03d}") for i in range(1, 6)]
    nodes[3] = changed(nodes[3], driver="535.104.05", kernel_module="535.104.05")
    drifts = by_fact(find_drift(nodes))
    d = drifts["driver_version"]
    assert d.majority == "570.124.06" and d.majority_count == 4
    assert d.minority == {"535.104.05": ("gpu-004",)}
    assert d.scope == "gpu model NVIDIA H100 80GB HBM3"
    assert drifts["kernel_module_version"].minority == {"535.104.05": ("gpu-004",)}


def test_a_narrow_link_names_the_node_and_the_gpu():
    # The fault a single-node check misses at idle: one GPU at x4 among x16 siblings.
    nodes = [node(f"gpu-{i:03d}") for i in range(1, 4)]
    gpus = list(nodes[1].gpus)
    gpus[5] = gpu(5, pcie_width=4)
    nodes[1] = changed(nodes[1], gpus=tuple(gpus))
    d = by_fact(find_drift(nodes))["gpu.pcie_width"]
    assert d.majority == "16" and d.majority_count == 23
    assert d.minority == {"4": ("gpu-002:gpu5",)}


def test_a_single_node_still_compares_its_own_gpus():
    one = node("solo", gpus=4)
    one = changed(one, gpus=(*one.gpus[:3], gpu(3, power_limit_w=400.0, ecc_enabled=False)))
    drifts = by_fact(find_drift([one]))
    assert drifts["gpu.power_limit_w"].minority == {"400": ("solo:gpu3",)}
    assert drifts["gpu.ecc"].minority == {"off": ("solo:gpu3",)}


def test_unknown_values_are_not_differences():
    nodes = [node(f"n{i}") for i in range(1, 4)]
    nodes[0] = changed(nodes[0], cudnn=None, kernel=None)
    assert find_drift(nodes) == ()


def test_framework_builds_and_gpu_counts_drift():
    nodes = [node(f"n{i}") for i in range(1, 5)]
    nodes[2] = changed(nodes[2], frameworks={"torch": "2.5.1+cpu (CPU)"})
    nodes[3] = changed(nodes[3], gpu_count=7, gpus=nodes[3].gpus[:7])
    drifts = by_fact(find_drift(nodes))
    assert drifts["framework.torch"].minority == {"2.5.1+cpu (CPU)": ("n3",)}
    assert drifts["gpus_per_node"].minority == {"7": ("n4",)}


def test_a_partition_is_a_scope_and_the_same_drift_is_not_reported_twice():
    nodes = [node(f"n{i}", partitions=("gpu",)) for i in range(1, 5)]
    nodes[0] = changed(nodes[0], os="Rocky Linux 9.4")
    drifts = [d for d in find_drift(nodes) if d.fact == "os"]
    assert len(drifts) == 1  # the GPU-model scope and the partition say the same thing

    mixed = [
        *nodes,
        node("a1", gpu_model="NVIDIA A100-SXM4-80GB", partitions=("gpu",), kernel="6.1.0"),
    ]
    kernel = [d for d in find_drift(mixed) if d.fact == "kernel"]
    assert [(d.scope, d.minority) for d in kernel] == [("partition gpu", {"6.1.0": ("a1",)})]


def test_natural_order_and_a_tie_are_stable():
    nodes = [node(n) for n in ("n10", "n2", "n1", "n3")]
    nodes[0] = changed(nodes[0], cuda_driver="12.4")
    nodes[1] = changed(nodes[1], cuda_driver="12.4")
    d = by_fact(find_drift(nodes))["cuda_driver_version"]
    # a 2-2 tie: both groups named, the larger value first, whatever the order
    assert list(d.minority.items()) == [("12.8", ("n1", "n3")), ("12.4", ("n2", "n10"))]
    assert by_fact(find_drift(list(reversed(nodes))))["cuda_driver_version"] == d


def test_a_tie_names_both_groups_and_neither_is_the_majority():
    # 7 GPUs against 8 on two nodes: 'majority 8' blamed gpu-002 alone, for no reason
    two = [node("gpu-001"), node("gpu-002", gpus=7)]
    d = by_fact(find_drift(two))["gpus_per_node"]
    assert d.tied and (d.majority, d.majority_count, d.reference) == ("", 0, "tie")
    assert d.minority == {"8": ("gpu-001",), "7": ("gpu-002",)}
    nodes = [node(n) for n in ("n10", "n2", "n1", "n3")]
    nodes[0] = changed(nodes[0], cuda_driver="12.4")
    nodes[1] = changed(nodes[1], cuda_driver="12.4")
    nodes.append(changed(node("n4"), cuda_driver="12.6"))
    d = by_fact(find_drift(nodes))["cuda_driver_version"]  # 2-2-1: the tied groups first
    assert d.tied and list(d.minority) == ["12.8", "12.4", "12.6"]
    three = [node("a"), node("b"), changed(node("c"), cuda_driver="12.4")]
    d = by_fact(find_drift(three))["cuda_driver_version"]  # 2-1: a majority, as before
    assert not d.tied and (d.majority, d.majority_count, d.reference) == ("12.8", 2, "majority")
    assert d.minority == {"12.4": ("c",)}


def test_a_tie_in_one_scope_and_a_majority_in_another_are_both_said():
    # the GPU-model scope ties (one H100 on 535, one on 570); the partition has a majority
    nodes = [
        node("h1", partitions=("gpu",), driver="535.104.05"),
        node("h2", partitions=("gpu",)),
        *(node(f"a{i}", gpu_model="NVIDIA A100-SXM4-80GB", partitions=("gpu",)) for i in (1, 2)),
    ]
    drifts = [(d.scope, d.reference) for d in find_drift(nodes) if d.fact == "driver_version"]
    assert drifts == [
        ("gpu model NVIDIA H100 80GB HBM3", "tie"),
        ("partition gpu", "majority"),
    ]


def test_a_gpu_with_nvlinks_down_and_a_slow_infiniband_node_are_named():
    # Issue 20: the NVLink count and the InfiniBand rate drift like any other fact.
    nodes = [node(f"gpu-{i:03d}", ib_rates="400 Gb/s x8") for i in range(1, 4)]
    gpus = [replace(g, nvlinks_active=18) for g in nodes[0].gpus]
    nodes = [changed(n, gpus=tuple(gpus)) for n in nodes]
    slow = list(nodes[2].gpus)
    slow[1] = replace(slow[1], nvlinks_active=16)
    nodes[2] = changed(nodes[2], gpus=tuple(slow), ib_rates="200 Gb/s x1 + 400 Gb/s x7")
    drifts = by_fact(find_drift(nodes))
    assert drifts["gpu.nvlinks_active"].minority == {"16": ("gpu-003:gpu1",)}
    assert drifts["gpu.nvlinks_active"].majority == "18"
    assert drifts["infiniband"].minority == {"200 Gb/s x1 + 400 Gb/s x7": ("gpu-003",)}


def test_a_gpu_whose_nvlinks_trained_slower_is_named():
    nodes = [node(f"gpu-{i:03d}") for i in range(1, 4)]
    nodes = [
        changed(n, gpus=tuple(replace(g, nvlink_speed_mbps=26562) for g in n.gpus)) for n in nodes
    ]
    slow = list(nodes[0].gpus)
    slow[0] = replace(slow[0], nvlink_speed_mbps=13281)
    nodes[0] = changed(nodes[0], gpus=tuple(slow))
    d = by_fact(find_drift(nodes))["gpu.nvlink_speed_mbps"]
    assert d.majority == "26562" and d.minority == {"13281": ("gpu-001:gpu0",)}


def test_a_node_with_a_lower_power_limit_is_named():
    nodes = [node(f"n{i}") for i in range(1, 4)]
    nodes[1] = changed(nodes[1], gpus=tuple(replace(g, power_limit_w=500.0) for g in nodes[1].gpus))
    d = by_fact(find_drift(nodes))["gpu.power_limit_w"]
    assert d.majority == "700" and set(d.minority) == {"500"}
    assert d.minority["500"][0] == "n2:gpu0"


def test_a_node_whose_bridges_redirect_again_is_named():
    # A setpci fix is undone by a reboot: that node redirects while its peers do not.
    nodes = [node(f"gpu-{i:03d}", acs_redirect="off") for i in range(1, 4)]
    nodes[1] = changed(nodes[1], acs_redirect="on")
    assert by_fact(find_drift(nodes))["acs_redirect"].minority == {"on": ("gpu-002",)}
    # a node checked without root does not know: unknown is no difference
    nodes[1] = changed(nodes[1], acs_redirect=None)
    assert "acs_redirect" not in by_fact(find_drift(nodes))
