"""Rules on the kernel log: Xids by catalogue, storms, GSP timeouts, Xid 154, SXids, no access."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gpudoctor.kb import load as load_kb
from gpudoctor.model.findings import Severity
from gpudoctor.model.redact import redact
from gpudoctor.model.report import (
    HardwareInfo,
    KernelLogInfo,
    Report,
    SiteInfo,
    SlurmJob,
    XidCount,
    XidEvent,
)
from gpudoctor.model.slurm import drain_reason, drained_by_gpudoctor
from gpudoctor.probe.kernel_log import _Reading, summarise
from gpudoctor.rules.hardware_log import densest
from tests.rules.builders import diagnose, findings, healthy, with_driver, with_gpu

GPU0 = "0000:01:00"  # the PCI address of healthy()'s H100 as the driver logs it


def with_log(report: Report, *counts: XidCount, events=(), **changes) -> Report:
    log = KernelLogInfo(
        **{
            "status": "ok",
            "source": "/dev/kmsg",
            "since": "2025-12-31T03:04:05Z",
            "window_h": 72.0,
            "counts": counts,
            "events": tuple(events),
            **changes,
        }
    )
    return replace(report, hardware=HardwareInfo(kernel_log=log))


def xid(code, count=1, pci=GPU0, message="", kind="xid"):
    return XidCount(
        kind=kind,
        code=code,
        pci=pci,
        count=count,
        first="2026-01-01T10:00:00Z",
        last="2026-01-02T01:00:00Z",
        last_message=message,
    )


def test_a_clean_log_gives_nothing_and_the_gpu_area_stays_ok():
    report = with_log(healthy())
    assert [f.id for f in diagnose(report).in_area("gpu")] == ["GD-GPU-000"]


def test_xid_79_is_an_error_that_names_the_gpu_and_the_reboot():
    report = with_log(healthy(), xid(79, 2, message="GPU has fallen off the bus."))
    (found,) = findings(report, "GD-GPU-056")
    assert found.severity == Severity.ERROR
    assert found.title.startswith("Xid 79 on GPU 0 (NVIDIA H100 80GB HBM3)")
    assert "reboot the node" in found.title
    assert "Xid 79 2 times" in found.evidence[0] and "72 h" in found.evidence[0]
    assert found.evidence[1] == "last line: GPU has fallen off the bus."
    assert found.fix[0] == "$ sudo reboot"


def test_a_log_read_from_the_boot_on_does_not_claim_the_whole_window():
    # Before, /dev/kmsg alone (no journal) covering 10 h of the 72 h asked read "Xid 79 2 times
    # ... in the last 72 h of the kernel log": the boots before were never read.
    late = with_log(
        healthy(),
        xid(79, 2, message="GPU has fallen off the bus."),
        covered_from="2026-01-02T00:00:00Z",
    )
    (found,) = findings(late, "GD-GPU-056")
    assert found.evidence[0].endswith(
        "in the kernel log from 2026-01-02T00:00:00Z on (/dev/kmsg holds nothing older; "
        "72 h were asked)"
    )
    whole = with_log(healthy(), xid(79, 2), covered_from="2025-12-31T03:04:05Z")
    (found,) = findings(whole, "GD-GPU-056")
    assert found.evidence[0].endswith("in the last 72 h of the kernel log (/dev/kmsg)")
    # the journal's oldest line is only the oldest the window holds (a quiet kernel)
    journal = with_log(
        healthy(), xid(79, 2), source="journalctl", covered_from="2026-01-02T00:00:00Z"
    )
    (found,) = findings(journal, "GD-GPU-056")
    assert found.evidence[0].endswith("in the last 72 h of the kernel log (journalctl)")


@pytest.mark.parametrize(
    ("code", "severity", "fix_start"),
    [
        (48, Severity.ERROR, "$ sudo nvidia-smi -r -i 0"),
        (64, Severity.ERROR, "$ sudo nvidia-smi -r -i 0"),  # RESET_GPU in NVIDIA's catalogue
        (109, Severity.ERROR, "$ sudo nvidia-smi -r -i 0"),  # RESET_GPU, not RESTART_APP
        (63, Severity.INFO, "Nothing by itself"),  # IGNORE: the remap waits for a reset
        (94, Severity.WARNING, "Restart the job"),
        (92, Severity.INFO, "Nothing by itself"),
        (45, None, None),  # blamed on the application: GD-GPU-057, not here
    ],
)
def test_the_catalogue_action_sets_severity_and_fix(code, severity, fix_start):
    report = with_log(healthy(), xid(code))
    found = findings(report, "GD-GPU-056")
    if severity is None:
        assert found == []
        return
    assert found[0].severity == severity
    assert found[0].fix[0].startswith(fix_start)


def test_an_xid_on_a_device_no_gpu_matches_names_the_address():
    report = with_log(healthy(), xid(79, pci="0000:9b:00"))
    (found,) = findings(report, "GD-GPU-056")
    assert "the device at PCI 0000:9b:00" in found.title
    assert found.fix[0] == "$ sudo reboot"


def test_an_xid_the_catalogue_lacks_is_a_warning_pointing_at_nvidia():
    (found,) = findings(with_log(healthy(), xid(999)), "GD-GPU-056")
    assert found.severity == Severity.WARNING and "not in gpudoctor's catalogue" in found.title
    assert "docs.nvidia.com/deploy/xid-errors" in found.fix[0]


@pytest.mark.parametrize("code", [13, 31, 43])
def test_application_xids_are_information(code):
    report = with_log(healthy(), xid(code, 5))
    assert findings(report, "GD-GPU-056") == []
    (found,) = findings(report, "GD-GPU-057")
    assert found.severity == Severity.INFO and "usually the application's" in found.title
    assert diagnose(report).worst == Severity.INFO  # nothing on the node to act on


def events(code, times, pci=GPU0):
    return [XidEvent(kind="xid", code=code, pci=pci, time=t) for t in times]


def stamp(minutes):
    return f"2026-01-01T{minutes // 60:02d}:{minutes % 60:02d}:00Z"


def test_eighteen_hardware_xids_in_two_hours_drain_the_node():
    storm = events(48, [stamp(5 * i) for i in range(18)])  # 18 in 85 minutes
    report = with_log(healthy(), xid(48, 18), events=storm)
    (found,) = findings(report, "GD-GPU-058")
    assert found.severity == Severity.ERROR and "18 hardware Xids within 2 h" in found.evidence[0]
    assert found.fix[0].startswith("Drain the node")
    # it read reason='GPU Xid', which named no finding; a reason the health gate never resumes
    # (not 'gpudoctor:...'): the gate, finding the log clean after a reboot, would put the GPU
    # back in service unrepaired
    assert found.fix[0].endswith(
        f"$ sudo scontrol update nodename=node-17 state=drain reason='repair:GPU-058 {found.title}'"
    )
    assert not drained_by_gpudoctor(drain_reason(found.id, found.title, repair=True))
    (redacted,) = findings(redact(report), "GD-GPU-058")
    assert "nodename=NODE state=drain" in redacted.fix[0]


def test_the_xid_drain_names_the_node_the_report_is_of():
    # it read 'nodename=$(hostname -s)': pasted from check --partition's report on the login
    # node, or inside a job on a node SLURM names otherwise, it drained another node
    storm = events(48, [stamp(5 * i) for i in range(18)])
    job = SlurmJob(job_id="9", node="n17")
    report = with_log(healthy(), xid(48, 18), events=storm)
    report = replace(report, site=SiteInfo(slurm_job=job))
    (found,) = findings(report, "GD-GPU-058")
    assert "$ sudo scontrol update nodename=n17 state=drain " in found.fix[0]


@pytest.mark.parametrize("named", ["$(hostname -s)", "$SLURMD_NODENAME"])
def test_a_report_naming_its_node_by_what_a_shell_expands_drains_a_word_to_replace(named):
    # a report sent to the admin (check --from-report, fleet) whose job named its node
    # '$(hostname -s)' read 'nodename=$(hostname -s)': pasted, it drained the admin's machine
    storm = events(48, [stamp(5 * i) for i in range(18)])
    report = with_log(healthy(), xid(48, 18), events=storm)
    report = replace(report, site=SiteInfo(slurm_job=SlurmJob(job_id="9", node=named)))
    (found,) = findings(report, "GD-GPU-058")
    assert "$ sudo scontrol update nodename=NODE state=drain " in found.fix[0]


def test_an_xid_whose_action_is_drain_and_repair_drains_until_a_person_resumes():
    # no row of NVIDIA's catalogue as kept today says drain_repair; one that does is drained so
    kb = load_kb()
    kb = replace(
        kb, xids=tuple(replace(x, action="drain_repair") if x.code == 48 else x for x in kb.xids)
    )
    (found,) = findings(with_log(healthy(), xid(48)), "GD-GPU-056", kb)
    assert found.severity == Severity.ERROR
    assert found.fix[0] == (
        "Drain the node and send the GPU for repair: $ sudo scontrol update "
        f"nodename=node-17 state=drain reason='repair:GPU-056 {found.title}'"
    )


def test_the_same_count_spread_over_a_day_is_no_storm():
    spread = events(48, [stamp(80 * i) for i in range(18)])
    assert findings(with_log(healthy(), xid(48, 18), events=spread), "GD-GPU-058") == []


def test_application_xids_never_make_a_storm():
    many = events(13, [stamp(i) for i in range(50)])
    assert findings(with_log(healthy(), xid(13, 50), events=many), "GD-GPU-058") == []


def test_densest_window():
    assert densest([0, 10, 20, 7200, 7201], 7200) == 4
    assert densest([], 7200) == 0


XID_119 = (
    "Timeout after 6s of waiting for RPC response from GPU4 GSP! Expected function 103 "
    "(GSP_RM_ALLOC) (0x2081 0x4)."
)


def test_a_gsp_timeout_shows_the_firmware_state_and_the_remedy():
    report = with_gpu(
        with_log(healthy(), xid(119, 4, message=XID_119)),
        gsp_firmware_enabled=True,
        gsp_firmware_default=True,
        gsp_firmware_version="590.48.01",
    )
    assert findings(report, "GD-GPU-056") == []  # its own rule
    (found,) = findings(report, "GD-GPU-059")
    assert found.severity == Severity.ERROR and "GSP firmware timeout" in found.title
    assert "GSP firmware: on (default on), firmware 590.48.01" in found.evidence
    assert found.fix[0].startswith("$ sudo nvidia-smi -r -i 0")
    assert not any("NVreg_EnableGpuFirmware" in f for f in found.fix)  # Hopper needs GSP


@pytest.mark.parametrize(
    ("os_release", "rebuild"),
    [
        ("Ubuntu 22.04.5 LTS", ": $ sudo update-initramfs -u && sudo reboot"),
        ("Rocky Linux 9.3 (Blue Onyx)", ": $ sudo dracut --force && sudo reboot"),
        (None, "`sudo update-initramfs -u` on Debian and Ubuntu"),
    ],
)
def test_turning_gsp_off_says_how_to_tell_it_took(os_release, rebuild):
    # the option was written to /etc/modprobe.d and the node rebooted, with no word that a
    # module the initramfs loads reads the initramfs' copy of the options, so GSP stayed on
    report = with_gpu(
        with_log(healthy(), xid(119)),
        architecture="Ampere",
        name="NVIDIA A100-SXM4-80GB",
        gsp_firmware_enabled=True,
    )
    report = with_driver(report, module_flavour="proprietary")
    report = replace(report, host=replace(report.host, os_release=os_release))
    (found,) = findings(report, "GD-GPU-059")
    check = next(f for f in found.fix if f.startswith("After the reboot"))
    assert "`nvidia-smi -q | grep 'GSP Firmware'` reads N/A" in check
    assert "rebuild it and reboot again" in check and rebuild in check


def test_gsp_can_be_turned_off_only_where_it_is_optional():
    report = with_gpu(
        with_log(healthy(), xid(120)),
        architecture="Ampere",
        name="NVIDIA A100-SXM4-80GB",
        gsp_firmware_enabled=True,
    )
    report = with_driver(report, module_flavour="proprietary")
    (found,) = findings(report, "GD-GPU-059")
    assert "GSP firmware error" in found.title
    assert any("NVreg_EnableGpuFirmware=0" in f for f in found.fix)
    open_module = with_driver(report, module_flavour="open")
    (found,) = findings(open_module, "GD-GPU-059")
    assert not any("NVreg_EnableGpuFirmware" in f for f in found.fix)


def test_the_recorded_xid_119_log_becomes_one_gsp_finding():
    # leptonai/gpud testdata/dmesg-with-xid-119.log, through the probe's own parser
    lines = [
        "NVRM: Xid (PCI:0000:01:00): 119, pid=2024380, name=nvidia-smi, " + XID_119,
        "NVRM: Xid (PCI:0000:01:00): 119, pid=2024380, name=nvidia-smi, Timeout after 6s of "
        "waiting for RPC response from GPU4 GSP! Expected function 10 (FREE) (0xa55a0210 0x0).",
        "NVRM: Rate limiting GSP RPC error prints for GPU at PCI:0000:01:00 (printing 1 of "
        "every 30).  The GPU likely needs to be reset.",
        "NVRM: Xid (PCI:0000:01:00): 119, pid=1240590, name=gpud, Timeout after 6s of waiting "
        "for RPC response from GPU4 GSP! Expected function 76 (GSP_RM_CONTROL) (0x20803032 "
        "0x58c).",
    ]
    reading = _Reading(lines=[(1_700_000_000.0 + i, line) for i, line in enumerate(lines)])
    counts, kept = summarise(reading, since=0)
    report = with_log(healthy(), *counts, events=kept)
    (found,) = findings(report, "GD-GPU-059")
    assert "Xid 119 3 times" in found.evidence[0]
    assert "GSP_RM_CONTROL" in found.evidence[1]


@pytest.mark.parametrize(
    ("message", "fix"),
    [
        ("GPU recovery action changed from 0x0 (None) to 0x4 (Drain and Reset)", "Drain the node"),
        (
            "GPU recovery action changed from 0x4 (Drain and Reset) to 0x1 (GPU Reset Required)",
            "$ sudo nvidia-smi -r -i 0",
        ),
        (
            "GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)",
            "$ sudo reboot",
        ),
    ],
)
def test_xid_154_follows_the_action_the_line_names(message, fix):
    (found,) = findings(with_log(healthy(), xid(154, message=message)), "GD-GPU-060")
    assert found.fix[0].startswith(fix)


def test_xid_154_back_to_none_means_recovered():
    message = "GPU recovery action changed from 0x1 (GPU Reset Required) to 0x0 (None)"
    assert findings(with_log(healthy(), xid(154, message=message)), "GD-GPU-060") == []


def test_sxids_fatal_and_not():
    fatal = xid(20034, kind="sxid", pci="0000:c3:00.0", message="Fatal, Link 61 LTSSM Fault Up")
    soft = xid(12028, kind="sxid", pci="0000:c4:00.0", message="Non-fatal, Link 46 egress")
    found = findings(with_log(healthy(), fatal, soft), "GD-GPU-061")
    assert [(f.severity, "(fatal)" in f.title) for f in found] == [
        (Severity.ERROR, True),
        (Severity.WARNING, False),
    ]
    assert findings(with_log(healthy(), fatal), "GD-GPU-056") == []  # not a GPU Xid


def test_an_unreadable_log_is_said_once_as_information():
    log = KernelLogInfo(
        status="unreadable",
        message="/dev/kmsg: Operation not permitted; journalctl: no permission to read the "
        "kernel messages; dmesg: no permission to read the kernel messages",
    )
    report = replace(healthy(), hardware=HardwareInfo(kernel_log=log))
    (found,) = findings(report, "GD-HOST-055")
    assert found.severity == Severity.INFO and len(found.evidence) == 3
    assert found.evidence[0] == "/dev/kmsg: Operation not permitted"
    assert found.fix[0] == '$ sudo "$(command -v gpudoctor)" check'  # sudo's secure_path
    assert not [f for f in diagnose(report).findings if f.id.startswith("GD-GPU-05")]


def test_a_report_from_before_the_hardware_probe_gets_none_of_these():
    report = healthy()  # hardware is None: written before 2026-12-07
    ids = {f.id for f in diagnose(report).findings}
    assert not ids & ({f"GD-GPU-0{n}" for n in range(56, 68)} | {"GD-HOST-055"})


def test_a_cut_reading_says_the_counts_are_lower_bounds():
    report = with_log(healthy(), xid(79), truncated=True)
    (found,) = findings(report, "GD-GPU-056")
    assert "lower bounds" in found.evidence[0]


def test_an_xid_before_the_last_boot_is_a_history_not_a_drain():
    # The journal keeps earlier boots: a reboot since then has reset every GPU.
    report = with_log(healthy(), xid(79), boot_time="2026-01-02T02:00:00Z")
    (found,) = findings(report, "GD-GPU-056")
    assert found.severity == Severity.WARNING and "before the last boot" in found.title
    same_boot = with_log(healthy(), xid(79), boot_time="2026-01-01T00:00:00Z")
    assert findings(same_boot, "GD-GPU-056")[0].severity == Severity.ERROR
    gsp = with_log(healthy(), xid(119), boot_time="2026-01-02T02:00:00Z")
    assert findings(gsp, "GD-GPU-059")[0].severity == Severity.WARNING
    message = "GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)"
    rebooted = with_log(healthy(), xid(154, message=message), boot_time="2026-01-02T02:00:00Z")
    assert findings(rebooted, "GD-GPU-060") == []


# A fatal SXid as the NVSwitch driver prints it: its own line, then the same SXid number with
# the severity and the raw data (NVIDIA/open-gpu-kernel-modules,
# src/common/nvswitch/kernel/inc/intr_nvswitch.h NVSWITCH_REPORT_FATAL: "Fatal, Link %02d %s";
# src/common/nvswitch/kernel/error_nvswitch.c _nvswitch_dump_error_entry: "Severity %d Engine
# instance %02d Sub-engine instance %02d", "Data {0x%08x, ...}").
FATAL_SXID_LINES = (
    "nvidia-nvswitch3: SXid (PCI:0000:c3:00.0): 20034, Fatal, Link 61 LTSSM Fault Up",
    "nvidia-nvswitch3: SXid (PCI:0000:c3:00.0): 20034, Severity 5 Engine instance 61 "
    "Sub-engine instance 00",
    "nvidia-nvswitch3: SXid (PCI:0000:c3:00.0): 20034, Data {0x50610002, 0x10100030, "
    "0x00000000, 0x10100030, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000}",
)


def test_a_fatal_sxid_with_its_detail_lines_is_one_fatal_error():
    # Before, the group's last line was "Data {...}": the fatal SXid read as a non-fatal
    # warning ("Watch the count"), counted three times.
    reading = _Reading(lines=[(1_767_261_600.0, line) for line in FATAL_SXID_LINES])
    counts, events = summarise(reading, since=0.0)
    (count,) = counts
    assert count.count == 1 and count.last_message.startswith("Fatal, Link 61")
    (found,) = findings(with_log(healthy(), *counts, events=events), "GD-GPU-061")
    assert found.severity == Severity.ERROR and "(fatal)" in found.title


def test_a_saved_report_ending_a_fatal_sxid_with_its_data_line_is_still_fatal():
    data = xid(20034, count=3, kind="sxid", pci="0000:c3:00.0", message="Data {0x50610002}")
    fatal_line = XidEvent(
        kind="sxid", code=20034, pci="0000:c3:00.0", message="Fatal, Link 61 LTSSM Fault Up"
    )
    (found,) = findings(with_log(healthy(), data, events=(fatal_line,)), "GD-GPU-061")
    assert found.severity == Severity.ERROR


@pytest.mark.parametrize("code", [46, 136, 158])
def test_xids_whose_catalogue_action_is_a_gpu_reset_are_errors(code):
    # Before 2026-12-07 these were "not in gpudoctor's catalogue": a warning pointing at
    # NVIDIA's page, where NVIDIA's catalogue says RESET_GPU.
    (found,) = findings(with_log(healthy(), xid(code, message="a line")), "GD-GPU-056")
    assert found.severity == Severity.ERROR and "reset the GPU" in found.title
    assert found.fix[0].startswith("$ sudo nvidia-smi -r -i 0")


def test_an_xid_names_the_gpu_of_its_pci_domain():
    # A GB200 node: four GPUs on bus 01 of domains 0008, 0009, 0018, 0019 (as NVML and
    # dcgm-exporter list them). Before, the domain was dropped and every Xid was put on GPU 0,
    # with "nvidia-smi -r -i 0" to reset the wrong GPU.
    report = healthy()
    for i, domain in enumerate(("0008", "0009", "0018", "0019")):
        gpu = replace(report.nvml.gpus[0], index=i, pci_bus_id=f"0000{domain}:01:00.0")
        others = tuple(g for g in report.nvml.gpus if g.index != i)
        report = replace(report, nvml=replace(report.nvml, gpus=(*others, gpu)))
    (found,) = findings(with_log(report, xid(79, pci="0019:01:00")), "GD-GPU-056")
    assert found.title.startswith("Xid 79 on GPU 3 ")
    (found,) = findings(with_log(report, xid(48, pci="0009:01:00")), "GD-GPU-056")
    assert found.title.startswith("Xid 48 on GPU 1 ") and "-i 1" in found.fix[0]
    (found,) = findings(with_log(report, xid(79, pci="0007:01:00")), "GD-GPU-056")
    assert "the device at PCI 0007:01:00" in found.title


def test_an_xid_address_without_a_domain_is_domain_0_as_in_gd_gpu_070():
    # The driver writes the domain in every Xid line (PCI:%04x:%02x:%02x); an address without
    # one is domain 0000, as lspci leaves it out and same_device reads it. device_of matched
    # it on any domain: on a GB200 node '01:00' was put on GPU 0 (0008:01:00.0).
    report = healthy()
    for i, domain in enumerate(("0008", "0009")):
        gpu = replace(report.nvml.gpus[0], index=i, pci_bus_id=f"0000{domain}:01:00.0")
        others = tuple(g for g in report.nvml.gpus if g.index != i)
        report = replace(report, nvml=replace(report.nvml, gpus=(*others, gpu)))
    (found,) = findings(with_log(report, xid(79, pci="01:00")), "GD-GPU-056")
    assert "the device at PCI 01:00" in found.title
    assert "-i 0" not in " ".join(found.fix)
    # and on domain 0 it names the GPU there
    (found,) = findings(with_log(healthy(), xid(48, pci="01:00")), "GD-GPU-056")
    assert found.title.startswith("Xid 48 on GPU 0 ")


def test_a_wedged_driver_shows_the_xids_this_check_read_instead_of_sending_to_dmesg():
    # Issue 20: findings that suspect the driver told the user to run `sudo dmesg | grep -i
    # xid` themselves although check had read the kernel log.
    from tests.rules.builders import with_nvml

    wedged = with_nvml(healthy(), status="timeout", gpus=())
    (found,) = findings(with_log(wedged, xid(79, count=2, pci="0000:9b:00")), "GD-NVML-005")
    assert found.fix[0] == (
        "The kernel log (/dev/kmsg, the last 72 h) holds Xid 79 on PCI 0000:9b:00 (2x): its "
        "findings (GD-GPU-056 to GD-GPU-061) say what each needs."
    )
    (found,) = findings(with_log(wedged), "GD-NVML-005")
    assert found.fix[0] == "The kernel log (/dev/kmsg, the last 72 h) holds no Xid error."
    # the log unread (a report from before, or no permission): the command, as before
    (found,) = findings(wedged, "GD-NVML-005")
    assert found.fix[0] == "$ sudo dmesg | grep -i xid"


def test_the_storm_threshold_is_not_attributed_to_azurehpc():
    # AzureHPC's Xid check (customTests/azure_gpu_xid.nhc) lists 18 Xid codes and fails a node
    # at the first one it finds; the rule said "18 or more hardware Xids within 2 hours: the
    # threshold at which AzureHPC's node health checks fail a node".
    import gpudoctor.rules  # noqa: F401  (registers every rule)
    from gpudoctor.rules.registry import REGISTRY

    storm = REGISTRY["GD-GPU-058"]
    assert "threshold at which AzureHPC" not in storm.why
    assert "gpudoctor's own" in storm.why
    assert any("azure_gpu_xid.nhc" in s and "no count" in s for s in storm.sources)


def test_a_replayed_report_without_window_or_source_reads_naturally():
    # An older report (--from-report) whose kernel_log lacks window_h and source: it read
    # 'in the last the look-back window of the kernel log (None)'.
    report = with_log(healthy(), xid(79), window_h=None, source=None, since=None)
    (found,) = findings(report, "GD-GPU-056")
    assert found.evidence[0] == "Xid 79 once (2026-01-02T01:00:00Z) in the kernel log"
    assert "None" not in " ".join(found.fix)
    cut = with_log(healthy(), xid(79), window_h=None, source=None, since=None, truncated=True)
    (found,) = findings(cut, "GD-GPU-056")
    assert found.evidence[0].endswith(
        "in the kernel log (reading stopped at its bound, so the counts are lower bounds)"
    )


def test_an_xid_79_before_the_boot_on_a_gpu_still_missing_is_not_fixed_by_a_reboot():
    # GD-GPU-070 says 'Xid 79 ... before this boot: the reboot since did not bring it back',
    # and GD-GPU-056 for the same GPU said '$ sudo reboot'
    from gpudoctor.model.report import PciFunction

    functions = tuple(
        PciFunction(address=a, device_id="0x2330", class_code="0x030200", driver="nvidia")
        for a in ("0000:01:00.0", "0000:02:00.0")
    )
    report = with_driver(healthy(), pci_functions=functions)
    gone = with_log(report, xid(79, pci="0000:02:00"), boot_time="2026-01-02T02:00:00Z")
    (found,) = findings(gone, "GD-GPU-056")
    assert found.severity == Severity.WARNING
    assert found.fix[0] == (
        "The reboot since did not bring it back (the nvidia driver has it, NVML does not list "
        "it): reseat it and check its power cables, or arrange an RMA"
    )
    assert "$ sudo reboot" not in found.fix
    # back after the reboot (NVML lists it): the catalogue's reboot stays
    back = with_log(report, xid(79), boot_time="2026-01-02T02:00:00Z")
    assert findings(back, "GD-GPU-056")[0].fix[0] == "$ sudo reboot"


def test_under_a_cgroup_v2_device_filter_the_xid_79_still_says_the_reboot_did_not_help():
    # GD-GPU-070 calls a GPU a device filter may hide lost where its Xid 79 is in the log; GD-
    # GPU-056 for the same GPU fell back to '$ sudo reboot' there (NVML's count is not the
    # node's under the filter): the Xid is the evidence, as GD-GPU-070 reads it
    from gpudoctor.model.report import DeviceAccessInfo, PciFunction

    functions = tuple(
        PciFunction(address=a, device_id="0x2330", class_code="0x030200", driver="nvidia")
        for a in ("0000:01:00.0", "0000:02:00.0")
    )
    step = "/system.slice/slurmstepd.scope/job_42/step_extern/user"
    report = replace(
        with_driver(healthy(), pci_functions=functions),
        device_access=DeviceAccessInfo(cgroup_version="v2", cgroup_path=step),
    )
    gone = with_log(report, xid(79, pci="0000:02:00"), boot_time="2026-01-02T02:00:00Z")
    (found,) = findings(gone, "GD-GPU-056")
    assert found.fix[0].startswith("The reboot since did not bring it back")
    (lost,) = findings(gone, "GD-GPU-070")
    assert lost.severity == Severity.ERROR
