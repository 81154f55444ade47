"""Node facts: a report and its diagnosis cut down to what the fleet compares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpudoctor import kb
from gpudoctor.errors import ReportFormatError
from gpudoctor.fleet.facts import is_verify_result, node_facts, throughput
from gpudoctor.model.findings import Severity
from gpudoctor.rules import diagnose
from gpudoctor.userfiles.read import load_report
from tests.rules.builders import pcie_acs_box

DATA = Path(__file__).resolve().parents[1] / "data"
H100 = DATA / "reports" / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json"
H200_VERIFY = DATA / "fleet" / "h200-verify-fp32.json"  # a real H200 run, 2026-12-04


def facts_of(path, name="gpu-001"):
    report = load_report(path)
    return node_facts(name, report, diagnose(report, kb.load()), ("gpu",))


def test_a_recorded_h100_becomes_comparable_facts():
    f = facts_of(H100)
    assert (f.stack.gpu_model, f.stack.gpu_count, f.stack.driver, f.stack.cuda_driver) == (
        "NVIDIA H100 80GB HBM3",
        1,
        "590.48.01",
        "13.1",
    )
    assert f.stack.build("torch") == "2.13.0+cu126 (CUDA 12.6, cuDNN 9.10.2)"
    assert f.stack.build("tensorflow") == "not installed"
    assert f.stack.cudnn == "9.10.2" and f.partitions == ("gpu",)
    assert f.gpus[0].pcie_width_max == 16 and f.gpus[0].memory_total_mib == 81559
    assert f.verdict is Severity.OK and f.finding_ids == ("GD-TF-001",)  # info reads ok


def test_a_lost_gpu_is_counted_but_its_unknown_facts_are_not_compared():
    f = facts_of(DATA / "reports" / "failure__one_gpu_lost.json")
    assert f.stack.gpu_count == 2 and [g.index for g in f.gpus] == [0]
    assert f.verdict is Severity.ERROR and "GD-GPU-001" in f.finding_ids


def test_real_h200_verify_runs_become_throughput_samples():
    data = json.loads(H200_VERIFY.read_text())
    assert is_verify_result(data)
    samples = throughput("h200-a", data, str(H200_VERIFY))
    gpu = {(s.model, s.device) for s in samples if s.device == "cuda:0"}
    assert ("resnet50", "cuda:0") in gpu and len(gpu) == 7
    assert all(s.device_name == "NVIDIA H200" for s in samples if s.device == "cuda:0")
    # only the main runs: verify's extra runs at the common batch are not the throughput
    assert len(samples) == len({(s.model, s.device) for s in samples})


@pytest.mark.parametrize(
    ("run", "match"),
    [
        ({"model": "resnet50", "framework": "torch", "images_per_second": 10.0}, "device"),
        (
            {"device": "cuda:0", "model": "m", "framework": "torch", "images_per_second": -1},
            "images_per_second",
        ),
        (
            {"device": "cuda:0", "model": "m", "framework": "torch", "images_per_second": "fast"},
            "runs\\[0\\]",
        ),
    ],
)
def test_a_malformed_run_names_where_it_is(run, match):
    with pytest.raises(ReportFormatError, match=match):
        throughput("n1", {"runs": [run], "verdict": "pass"}, "n1.verify.json")


def test_nvlinks_and_infiniband_rates_become_facts():
    import dataclasses

    from gpudoctor.model.report import HardwareInfo, IbPort

    report = load_report(H100)  # a real H100 SXM: 18 links, from `nvidia-smi nvlink -s`
    ports = (
        IbPort(device="mlx5_0", port=1, state="ACTIVE", rate_gbps=400.0),
        IbPort(device="mlx5_1", port=1, state="ACTIVE", rate_gbps=200.0),
        IbPort(device="mlx5_2", port=1, state="DOWN", rate_gbps=400.0),
    )
    report = dataclasses.replace(report, hardware=HardwareInfo(ib_ports=ports))
    f = node_facts("gpu-001", report, diagnose(report, kb.load()))
    assert [g.nvlinks_active for g in f.gpus] == [18]
    assert f.ib_rates == "200 Gb/s x1 + 400 Gb/s x1"


def test_a_report_from_before_the_hardware_probe_has_no_such_facts():
    import dataclasses

    from gpudoctor.model.report import GpuInfo

    report = load_report(H100)
    old = dataclasses.replace(
        report,
        hardware=None,
        nvml=dataclasses.replace(
            report.nvml,
            gpus=tuple(
                dataclasses.replace(g, nvlink_count=None, nvlinks_up=None, nvlinks=None)
                for g in report.nvml.gpus
            ),
        ),
    )
    assert isinstance(old.nvml.gpus[0], GpuInfo)
    f = node_facts("gpu-001", old, diagnose(old, kb.load()))
    assert f.ib_rates is None and [g.nvlinks_active for g in f.gpus] == [None]


def rtx(state: str) -> Path:
    return (
        DATA / "reports" / f"linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__{state}.json"
    )


def test_an_idle_gpus_pcie_generation_is_unknown_not_a_drift(tmp_path):
    # one machine recorded idle (Gen1, 0 %) and under load (Gen3, 8 %): a fleet checked at
    # mixed load drifted on "gpu.pcie_gen 1 on 2 GPUs; 3 on g2:gpu0" and marked g2 drifting
    from gpudoctor.fleet.drift import find_drift

    idle, busy = facts_of(rtx("idle"), "g1"), facts_of(rtx("load"), "g2")
    assert idle.gpus[0].pcie_gen is None and busy.gpus[0].pcie_gen == 3
    other_idle = facts_of(rtx("idle"), "g3")
    assert not [d for d in find_drift([idle, busy, other_idle]) if d.fact == "gpu.pcie_gen"]
    # busy GPUs are still compared: one whose link trained at Gen1 under load is named
    doc = json.loads(rtx("load").read_text())
    doc["nvml"]["gpus"][0]["pcie_gen"] = 1
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps(doc))
    nodes = [busy, facts_of(rtx("load"), "g4"), facts_of(slow, "g5")]
    (gen,) = [d for d in find_drift(nodes) if d.fact == "gpu.pcie_gen"]
    assert gen.minority == {"1": ("g5:gpu0",)}


def test_acs_redirect_is_a_fact_only_where_it_was_read():
    def fact(report):
        return node_facts("gpu-001", report, diagnose(report, kb.load())).acs_redirect

    assert fact(pcie_acs_box()) == "on"
    assert fact(pcie_acs_box(control=0x0011)) == "off"  # SrcValid, UpstreamFwd: no redirect
    assert fact(pcie_acs_box(control=None, status="needs_root")) is None
    assert fact(load_report(H100)) is None


def test_a_fix_that_drains_the_node_is_in_its_fleet_evidence_naming_node():
    # the fleet report showed no fix of a node's check: GD-GPU-058's repair drain, GD-GPU-070's
    # drain were nowhere in it; carried as the node named them, 20 nodes were 20 commands
    from gpudoctor.fleet.facts import drains
    from gpudoctor.model.findings import Finding
    from gpudoctor.model.slurm import drain_command

    title = "Xid 48 on GPU 3 (NVIDIA H100 80GB HBM3): double-bit ECC error"

    def repair(node: str) -> Finding:
        drain = drain_command(node, "GD-GPU-058", title, repair=True)
        return Finding(
            id="GD-GPU-058",
            severity=Severity.ERROR,
            area="gpu",
            title=title,
            fix=("$ sudo dmesg -T | grep -i xid", f"Drain the node and send the GPU: $ {drain}"),
        )

    named = (
        "fix: Drain the node and send the GPU: `sudo scontrol update nodename=NODE "
        f"state=drain reason='repair:GPU-058 {title}'`"
    )
    for said in ("gpu-007", "NODE", "$(hostname -s)", "$SLURMD_NODENAME"):
        assert drains(repair(said), "gpu-007") == (named,), said
    # another node's name is no name of this one: kept as it is
    assert drains(repair("gpu-008"), "gpu-007") == (named.replace("=NODE", "=gpu-008"),)
    assert drains(repair("gpu-007"), "n1; reboot") == (named.replace("=NODE", "=gpu-007"),)


def test_a_node_report_of_a_gpu_missing_from_nvml_carries_its_drain(tmp_path):
    doc = json.loads((DATA / "reports" / "failure__gpu_missing_from_nvml.json").read_text())
    doc["site"]["slurm_commands"] = True  # on a SLURM node: check's fix drains it
    doc["host"]["hostname"] = "gpu-007.lab"
    (path := tmp_path / "gpu-007.json").write_text(json.dumps(doc))
    (missing,) = [f for f in facts_of(path, "gpu-007").findings if f.id == "GD-GPU-070"]
    assert [e for e in missing.evidence if e.startswith("fix: ")] == [
        "fix: `sudo scontrol update nodename=NODE state=drain reason='gpudoctor:GPU-070 NVML "
        "lists 7 of the 8 GPUs the nvidia driver owns: GPU 0000:ba:00.0 missing'` (first, "
        "on a SLURM node)"
    ]
    # no other step of the fix: the fleet report is no node report
    assert not any("dmesg" in e for e in missing.evidence)
