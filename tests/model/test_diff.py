"""The one list of facts and the one comparison, over recorded reports with known changes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from gpudoctor.fleet.drift import NODE_FACTS
from gpudoctor.model.diff import (
    NOISE_FLOOR,
    Change,
    PackageAction,
    Side,
    ThroughputSample,
    compare_facts,
    compare_findings,
    compare_throughput,
    in_window,
    machine_difference,
    make_diff,
    noise_threshold,
    samples_from_verify,
)
from gpudoctor.model.facts import GPU_FLEET_FIELDS, GROUPS, module_build_date, report_facts
from gpudoctor.model.findings import Severity
from gpudoctor.userfiles.read import load_report
from tests.conftest import DATA

REPORTS = DATA / "reports"
REAL = DATA / "real"
VERIFY = DATA / "verify" / "h200"
H200_IDLE = REPORTS / "linux-x86_64__nvidia-h200__590.48.01__idle.json"


def facts(path: Path):
    return report_facts(load_report(path))


def changes(old: Path, new: Path):
    return {c.key: c for c in compare_facts(facts(old), facts(new))}


def samples(name: str):
    return samples_from_verify(json.loads((VERIFY / name).read_text()), name)


def test_two_healthy_runs_of_one_machine_differ_in_nothing():
    """Idle and under load: temperatures, clocks now, memory used and the idle PCIe link
    generation differ, none of which is a fact."""
    load = REPORTS / "linux-x86_64__nvidia-h200__590.48.01__load.json"
    assert changes(H200_IDLE, load) == {}
    assert changes(H200_IDLE, H200_IDLE) == {}


def test_a_driver_library_mismatch_shows_the_module_and_nvml_not_a_gone_gpu():
    """NVML that fails lists no GPU: the H200 is unknown on NEW, not gone (the GPU count
    already said so), and a note says why the GPUs are not compared."""
    side = Side(label="x")
    diff = make_diff(
        side,
        side,
        old_facts=facts(H200_IDLE),
        new_facts=facts(REPORTS / "failure__driver_library_mismatch.json"),
    )
    found = {c.key: c for c in diff.facts}
    assert (found["driver.kernel_module"].old, found["driver.kernel_module"].new) == (
        "590.48.01",
        "570.133.20",
    )
    assert found["nvml.status"].new == "lib_rm_version_mismatch"
    assert not any(k.startswith("gpu") for k in found)
    assert diff.notes == (
        "NEW's NVML listed no GPUs (NVML: lib_rm_version_mismatch): the GPUs are not compared",
    )
    back = make_diff(
        side,
        side,
        old_facts=facts(REPORTS / "failure__driver_library_mismatch.json"),
        new_facts=facts(H200_IDLE),
    )
    assert not any(c.key.startswith("gpu") for c in back.facts)
    assert back.notes[0].startswith("OLD's NVML listed no GPUs")


def test_a_gpu_that_nvml_stops_listing_is_one_gone_line():
    report = load_report(H200_IDLE)
    fewer = dataclasses.replace(report, nvml=dataclasses.replace(report.nvml, gpus=()))
    found = {c.key: c for c in compare_facts(report_facts(report), report_facts(fewer))}
    gpu = found["gpu.0"]  # one line for the GPU that went, not one per setting
    assert (gpu.change, gpu.old, gpu.label) == (Change.GONE, "NVIDIA H200", "GPU 0")
    assert not any(k.startswith("gpu.0.") for k in found)
    order = [
        c.group
        for c in compare_facts(
            facts(H200_IDLE), facts(REPORTS / "failure__driver_library_mismatch.json")
        )
    ]
    ranks = [[name for name, _ in GROUPS].index(g) for g in order]
    assert ranks == sorted(ranks)  # kernel module and driver first, the host last


def test_a_shadowing_ld_library_path_shows_the_variable_and_the_cudnn_loaded():
    found = changes(H200_IDLE, REPORTS / "failure__torch_cudnn_shadowed_by_ld_library_path.json")
    assert found["env.LD_LIBRARY_PATH"].change is Change.APPEARED
    assert found["framework.torch.cudnn_runtime"].new == "8.2.4"
    # the idle report did not record the file cuDNN came from: unknown there, not a change
    assert "framework.torch.cudnn_library" not in found


def test_the_real_h200_pair_differs_in_nothing_though_one_did_not_record_the_cudnn_file():
    """open_module was written before reports recorded cudnn_library (2026-12-04): it loaded
    the same libcudnn.so.9 from the same wheel, so the file it did not name is no change."""
    old = REAL / "linux-x86_64__nvidia-h200__580.159.04__flavour_and_cudnn_file.json"
    new = REAL / "linux-x86_64__nvidia-h200__580.159.04__open_module.json"
    assert changes(old, new) == {}
    assert changes(new, old) == {}
    moved = load_report(old)
    torch = dataclasses.replace(
        moved.frameworks[0],
        cudnn_library=dataclasses.replace(
            moved.frameworks[0].cudnn_library, path="/usr/lib/x86_64-linux-gnu/libcudnn.so.9"
        ),
    )
    found = compare_facts(
        report_facts(load_report(old)),
        report_facts(dataclasses.replace(moved, frameworks=(torch, *moved.frameworks[1:]))),
    )
    assert [(c.key, c.change) for c in found] == [("framework.torch.cudnn_library", Change.CHANGED)]


def test_a_changed_power_limit_and_ecc_mode_are_gpu_facts():
    report = load_report(H200_IDLE)
    gpu = dataclasses.replace(report.nvml.gpus[0], power_limit_w=500.0, ecc_enabled=False)
    changed = dataclasses.replace(report, nvml=dataclasses.replace(report.nvml, gpus=(gpu,)))
    found = {c.key: c for c in compare_facts(report_facts(report), report_facts(changed))}
    assert (found["gpu.0.power_limit_w"].old, found["gpu.0.power_limit_w"].new) == ("700", "500")
    assert (found["gpu.0.ecc_enabled"].old, found["gpu.0.ecc_enabled"].new) == ("on", "off")
    assert all(c.group == "gpus" for c in found.values())


def test_unknown_is_never_a_change_and_absence_only_when_asked():
    old = facts(H200_IDLE)
    unknown = [dataclasses.replace(f, value=None) for f in old]
    assert compare_facts(old, unknown) == ()
    fewer = [f for f in old if not f.key.startswith("cuda.lib.")]
    assert compare_facts(old, fewer, absent_is_change=False) == ()
    gone = compare_facts(old, fewer)
    assert gone and all(c.change is Change.GONE for c in gone)


def test_every_fleet_fact_name_is_in_the_one_list():
    """Fleet drift's names come from model/facts.py, so diff and fleet compare one list."""
    named = {f.fleet for f in facts(H200_IDLE) if f.fleet}
    assert {name for name, _ in NODE_FACTS} <= named | {"gpus_per_node"}
    assert {name for name, _ in GPU_FLEET_FIELDS} - {"gpu.pcie_gen"} <= named


@pytest.mark.parametrize(
    ("line", "built"),
    [
        (
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  590.48.01  Tue Nov 18 20:26:51 UTC "
            "2025",
            "Tue Nov 18 20:26:51 UTC 2025",
        ),
        (
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  "
            "(nixbld@)",
            None,
        ),
        (None, None),
    ],
)
def test_the_module_build_date_comes_from_the_proc_version_line(line, built):
    assert module_build_date(line) == built


def test_findings_that_appeared_and_went_away_by_id():
    old = [("GD-A-001", Severity.ERROR, "was"), ("GD-B-001", Severity.OK, "fine")]
    new = [("GD-A-001", Severity.ERROR, "was, reworded"), ("GD-C-001", Severity.WARNING, "new")]
    found = compare_findings(old, new)
    assert [(f.id, f.change) for f in found] == [("GD-C-001", Change.APPEARED)]
    found = compare_findings(new, old)
    assert [(f.id, f.change) for f in found] == [("GD-C-001", Change.GONE)]


def test_a_finding_whose_severity_moved_is_a_change_not_the_same():
    # a warning that became an error read "no change" (and diff exited 0)
    old = [("GD-A-001", Severity.WARNING, "slow"), ("GD-B-001", Severity.INFO, "x")]
    new = [("GD-A-001", Severity.ERROR, "slow"), ("GD-B-001", Severity.INFO, "x, reworded")]
    (found,) = compare_findings(old, new)
    assert (found.id, found.change, found.severity, found.old_severity) == (
        "GD-A-001",
        Change.CHANGED,
        Severity.ERROR,
        Severity.WARNING,
    )


def test_an_id_raised_on_several_gpus_stands_at_its_worst():
    old = [("GD-A-001", Severity.ERROR, "GPU 0"), ("GD-A-001", Severity.WARNING, "GPU 1")]
    new = [("GD-A-001", Severity.WARNING, "GPU 1"), ("GD-A-001", Severity.ERROR, "GPU 0")]
    assert compare_findings(old, new) == ()  # the order they came in does not matter
    (found,) = compare_findings(old, [("GD-A-001", Severity.WARNING, "GPU 1")])
    assert (found.change, found.old_severity) == (Change.CHANGED, Severity.ERROR)


def _sample(ips: float, spread: float | None = 0.0, **kw) -> ThroughputSample:
    base = ThroughputSample(
        framework="torch",
        model="resnet50",
        device="cuda:0",
        device_name="NVIDIA H200",
        mode="inference",
        precision="fp32",
        batch_size=128,
        layout="nchw",
        images_per_second=ips,
        spread=spread,
    )
    return dataclasses.replace(base, **kw)


@pytest.mark.parametrize(
    ("old", "new", "spread", "beyond"),
    [
        (3000, 2550, 0.01, True),  # -15 %: the throughput drop the issue names
        (3000, 2950, 0.01, False),  # -1.7 %: under the 3 % floor
        (3000, 2550, 0.10, False),  # -15 % but the runs' own spread was 10 %: within 2 × 10 %
        (3000, 3600, 0.05, True),  # +20 % beyond 2 × 5 %
    ],
)
def test_throughput_beyond_the_noise(old, new, spread, beyond):
    found, within, unmatched = compare_throughput([_sample(old, spread)], [_sample(new, 0.0)])
    assert (len(found), within, unmatched) == ((1, 0, 0) if beyond else (0, 1, 0))
    if beyond:
        assert found[0].ratio == pytest.approx(new / old)
        assert found[0].threshold == max(NOISE_FLOOR, 2 * spread)


def test_the_noise_threshold_ignores_a_missing_spread():
    assert noise_threshold(_sample(1, None), _sample(1, None)) == NOISE_FLOOR


def test_an_unrecorded_layout_pairs_with_the_one_matching_run():
    found, within, unmatched = compare_throughput(
        [_sample(3000, layout="")], [_sample(3000, layout="nchw"), _sample(9, model="vgg16")]
    )
    assert (found, within, unmatched) == ((), 1, 1)


def test_the_recorded_h200_amp_runs_show_the_inception_drop_and_nothing_else():
    """Two real sessions on one H200, AMP fp16 NCHW (tests/data/verify/h200/README.md)."""
    found, within, _ = compare_throughput(
        samples("verify-amp.json"), samples("new-amp-fp16-nchw.json")
    )
    assert [(c.model, round(c.ratio, 2)) for c in found] == [("inception_v3", 0.74)]
    assert within == 6


def test_a_verify_result_with_a_bad_run_is_refused_in_one_line():
    from gpudoctor.errors import ReportFormatError

    with pytest.raises(ReportFormatError, match=r"runs\[0\]"):
        samples_from_verify({"runs": [{"images_per_second": 5}]}, "x.json")
    with pytest.raises(ReportFormatError, match="images_per_second"):
        samples_from_verify(
            {"runs": [{"model": "m", "framework": "t", "device": "cpu", "images_per_second": -1}]},
            "x.json",
        )


def test_two_machines_are_said_before_the_diff():
    a = Side(label="a", host="node-1", machine="f1")
    assert machine_difference(a, Side(label="b", host="node-1", machine="f1")) is None
    assert "different machines" in (machine_difference(a, Side(label="b", machine="f2")) or "")
    assert "node-2" in (machine_difference(a, Side(label="b", host="node-2")) or "")
    assert machine_difference(a, Side(label="b", host="<redacted>")) is None


def test_two_machines_without_host_names_are_told_by_their_hardware():
    """Two redacted reports (no host name): the recorded H200 and H100 differ in CPU-side
    facts and GPU addresses; a report against itself, or with one card swapped, does not."""
    from gpudoctor.model.diff import hardware_difference

    h200 = facts(REPORTS / "linux-x86_64__nvidia-h200__580.159.04__open_module.json")
    h100 = facts(REPORTS / "failure__h100_xid_history_nvlink_down.json")
    assert hardware_difference(h200, h200) is None
    said = hardware_difference(h200, h100) or ""
    assert said.startswith("OLD and NEW look like two machines")
    assert "GPU PCI addresses 00000000:00:06.0 against 00000000:00:09.0" in said
    swapped = [
        f if f.key != "gpu.0.pci_bus_id" else dataclasses.replace(f, value="00000000:00:07.0")
        for f in h200
    ]
    assert hardware_difference(h200, swapped) is None  # one fact alone: a change, not a machine


def test_a_lost_or_gone_gpu_is_a_change_not_another_machine():
    """Two H100s; then GPU 1 falls off the bus: NVML lists it lost (no name, no address) or
    not at all. Its models and addresses are then a subset of before: one machine, whose
    package actions between the two stay in the diff."""
    from gpudoctor.model.diff import hardware_difference

    report = load_report(REPORTS / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.json")
    first = report.nvml.gpus[0]
    second = dataclasses.replace(first, index=1, pci_bus_id="00000000:00:0A.0")
    lost = load_report(REPORTS / "failure__one_gpu_lost.json").nvml.gpus[1]
    assert lost.lost and lost.name is None and lost.pci_bus_id is None

    def with_gpus(*gpus):
        return report_facts(
            dataclasses.replace(report, nvml=dataclasses.replace(report.nvml, gpus=gpus))
        )

    two = with_gpus(first, second)
    assert hardware_difference(two, with_gpus(first, lost)) is None
    assert hardware_difference(two, with_gpus(first)) is None
    assert hardware_difference(with_gpus(first), two) is None  # and back
    other = dataclasses.replace(first, name="NVIDIA H200", pci_bus_id="00000000:00:06.0")
    assert hardware_difference(two, with_gpus(other)) is not None
    action = PackageAction(
        when="2026-12-02T00:00:00Z", action="upgrade", package="nvidia-dkms-590", source="apt"
    )
    old = Side(label="a", created_at="2026-12-01T00:00:00Z", machine="f00d")
    new = Side(label="b", created_at="2026-12-03T00:00:00Z", machine="f00d")
    diff = make_diff(old, new, old_facts=two, new_facts=with_gpus(first, lost), actions=[action])
    assert diff.other_machine is None and diff.packages == (action,)


def test_package_actions_between_the_two_times_only():
    from gpudoctor.model.diff import PackageAction

    def act(when: str) -> PackageAction:
        return PackageAction(when=when, action="upgrade", package="nvidia-dkms", source="apt")

    actions = [
        act("2026-11-30T00:00:00Z"),
        act("2026-12-01T06:25:11Z"),
        act("2026-12-08T00:00:00Z"),
    ]
    kept = in_window(actions, "2026-12-01T00:00:00Z", "2026-12-07T00:00:00Z")
    assert [a.when for a in kept] == ["2026-12-01T06:25:11Z"]


def test_a_diff_of_another_machine_reads_no_package_log():
    from gpudoctor.model.diff import PackageAction

    action = PackageAction(
        when="2026-12-01T06:25:11Z", action="upgrade", package="nvidia-dkms", source="apt"
    )
    old = Side(label="a", host="n1", created_at="2026-12-01T00:00:00Z")
    new = Side(label="b", host="n2", created_at="2026-12-02T00:00:00Z")
    diff = make_diff(old, new, actions=[action])
    assert diff.other_machine and diff.packages == ()
    same = make_diff(old, dataclasses.replace(new, host="n1"), actions=[action])
    assert same.packages == (action,)


def test_frameworks_probed_on_one_side_only_are_not_compared():
    report = load_report(H200_IDLE)
    bare = dataclasses.replace(report, frameworks=())
    side = Side(label="x")
    diff = make_diff(side, side, old_facts=report_facts(report), new_facts=report_facts(bare))
    assert not diff.in_group("frameworks")
    assert any("did not probe the frameworks" in n for n in diff.notes)


@pytest.mark.parametrize("path", sorted(REPORTS.glob("*.json")), ids=lambda p: p.stem)
def test_the_whole_node_facts_are_the_fleet_facts_of_the_full_list(path: Path):
    """Fleets ask only for the whole-node facts (whole_node=True skips the per-GPU, library,
    wheel and environment facts): what they get is exactly what the full list gives them."""
    from gpudoctor.model.facts import fleet_facts

    report = load_report(path)
    assert fleet_facts(report_facts(report, whole_node=True)) == fleet_facts(report_facts(report))


def test_memtotal_moved_by_a_kernel_update_is_no_change_a_lost_dimm_is():
    """MemTotal is the RAM less the kernel's code and reservations (kernel
    Documentation/filesystems/proc.rst): a new kernel moves it by some MiB."""
    report = load_report(H200_IDLE)

    def with_memory(mib):
        host = dataclasses.replace(report.host, memory_total_mib=mib)
        return report_facts(dataclasses.replace(report, host=host))

    assert compare_facts(with_memory(2063790), with_memory(2063786)) == ()
    (lost,) = compare_facts(with_memory(2063790), with_memory(2063790 - 64 * 1024))
    assert (lost.key, lost.label, lost.old, lost.new) == (
        "host.memory_gib",
        "memory (GiB)",
        "2015",
        "1951",
    )


def test_an_old_side_made_after_the_new_one_is_said():
    # `gpudoctor diff 1 3` (the newest as OLD) read an upgrade as a downgrade, without a word.
    earlier = Side(label="3", created_at="2026-12-01T06:00:00Z")
    later = Side(label="1", created_at="2026-12-07T04:02:27Z")
    (note,) = make_diff(later, earlier).notes
    assert note.startswith("OLD (2026-12-07T04:02:27Z) was made after NEW (2026-12-01T06:00:00Z)")
    assert make_diff(earlier, later).notes == ()
    assert make_diff(Side(label="a"), earlier).notes == ()  # a time unknown: nothing to say
    odd = Side(label="b", created_at="yesterday")
    assert make_diff(later, odd).notes == ()
