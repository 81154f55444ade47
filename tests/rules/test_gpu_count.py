"""The GPU count rule: NVML's GPUs against the GRES SLURM gives out on the node."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gpudoctor.model.findings import Severity
from gpudoctor.model.redact import redact
from gpudoctor.model.report import (
    DeviceAccessInfo,
    ExcludedGpu,
    GpuInfo,
    HardwareInfo,
    InitFailure,
    KernelLogInfo,
    MigDevice,
    PciFunction,
    Report,
    SiteInfo,
    SlurmJob,
    SlurmNodeGres,
    Unavailable,
    XidCount,
)
from gpudoctor.model.slurm import drain_command, drain_reason, node_gpu_gres, node_to_drain
from tests.rules.builders import (
    diagnose,
    findings,
    h100,
    healthy,
    severities,
    with_driver,
    with_env,
    with_host,
    with_nvml,
)

RULE = "GD-GPU-068"


def node(*gres: str, gpus: int = 8, site: SiteInfo | None = None) -> Report:
    """A node with ``gpus`` H100s (PCI 01..) whose SLURM GRES is ``gres``."""
    report = with_nvml(healthy(), gpus=tuple(h100(i) for i in range(gpus)))
    answer = SlurmNodeGres(name="gpu-07", state="idle", gres=gres)
    return replace(report, site=replace(site or SiteInfo(), slurm_node=answer))


def pci(*buses: int) -> tuple[PciFunction, ...]:
    return tuple(
        PciFunction(
            address=f"0000:0{b}:00.0", device_id="0x2330", class_code="0x030200", driver="nvidia"
        )
        for b in buses
    )


@pytest.mark.parametrize(
    ("field", "count", "shown"),
    [
        (("gpu:8",), 8, "gpu:8"),
        (("gpu:h100:8(S:0-1)",), 8, "gpu:h100:8"),
        (("gpu:a100:4", "gpu:v100:2"), 6, "gpu:a100:4,gpu:v100:2"),
        (("gpu:h100:8", "nic:2"), 8, "gpu:h100:8"),
        (("gpu:a100:4(S:0,1)",), 4, "gpu:a100:4"),
        (("gpu",), None, "gpu"),
    ],
)
def test_the_gpu_part_of_a_gres_list(field, count, shown):
    found = node_gpu_gres(field)
    assert found is not None
    assert (found.count, found.shown) == (count, shown)


@pytest.mark.parametrize(
    ("field", "count", "types"),
    [
        # int() refused both: 'check --from-report' stopped with an internal error (exit 3)
        (("gpu:²",), None, ("²",)),  # str.isdigit() is true for a superscript two
        (("gpu:h100:" + "9" * 5000,), None, ("h100",)),  # more digits than int() converts
        (("gpu:" + "9" * 19,), None, ()),
        (("gpu:" + "9" * 18,), 10**18 - 1, ()),
    ],
)
def test_a_hostile_gres_count_is_no_count(field, count, types):
    found = node_gpu_gres(field)
    assert found is not None
    assert (found.count, found.types) == (count, types)


@pytest.mark.parametrize("field", [(), ("nic:2",), ("gpumem:8",)])
def test_a_gres_without_gpus_gives_none(field):
    assert node_gpu_gres(field) is None


def test_a_gpu_missing_from_nvml_is_an_error_naming_its_pci_address():
    report = with_driver(node("gpu:h100:8(S:0-1)", gpus=7), pci_functions=pci(*range(1, 9)))
    (found,) = findings(report, RULE)
    assert found.severity == Severity.ERROR and found.area == "gpu"
    # it read '..., NVML lists only 7': the drain reason did not say which GPU went missing
    assert found.title == (
        "SLURM gives out gpu:h100:8 here; NVML lists only 7 GPUs of the node's 8: "
        "GPU 0000:08:00.0 lost"
    )
    # the reason the gate drains with (it was 'GRES gpu:h100:8, NVML 7: ...', the gate's not)
    # in single quotes, the title's apostrophe escaped between two of them
    title = found.title.replace("'", "'\\''")
    assert found.fix[0].endswith(f"reason='gpudoctor:GPU-068 {title}'")
    assert found.evidence[0] == (
        "SLURM gives out gpu:h100:8 on gpu-07; NVML lists 7 GPUs (missing: PCI 0000:08:00.0)"
    )
    assert any("state=drain" in line for line in found.fix)
    assert any("Xid" in line for line in found.fix)


LONG_GRES = (
    "gpu:nvidia_h100_80gb_hbm3:2",
    "gpu:nvidia_a100-sxm4-80gb:2",
    "gpu:nvidia_l40s:2",
    "gpu:tesla_v100-sxm2-32gb:1",
    "gpu:nvidia_rtx_6000_ada_generation:1",
)


def test_the_lost_gpu_s_address_survives_the_drain_reason_s_200_characters():
    # A GRES of several AutoDetect type names: the title ('SLURM gives out gpu:nvidia_h100_
    # 80gb_hbm3:2,gpu:... here; NVML lists only 7 GPUs of the node's 8: GPU 0000:08:00.0
    # lost') passed 200 characters with the gate's prefix, and the reason the node was
    # drained with was cut to '...of the node's 8: GP…': which GPU was gone was lost
    report = with_driver(node(*LONG_GRES, gpus=7), pci_functions=pci(*range(1, 9)))
    (found,) = findings(report, RULE)
    assert found.title == (
        "SLURM gives out 8 GPUs in 5 GRES entries here; NVML lists only 7 GPUs of the node's "
        "8: GPU 0000:08:00.0 lost"
    )
    assert drain_reason(RULE, found.title, more=12).endswith("GPU 0000:08:00.0 lost (+12 more)")
    assert ",".join(LONG_GRES) in found.evidence[0]  # the evidence has the GRES whole
    # the node's name is no part of the reason: a 120-character one changes nothing
    long_name = replace(report.site.slurm_node, name="n" * 120)
    (named,) = findings(replace(report, site=replace(report.site, slurm_node=long_name)), RULE)
    assert named.title == found.title and f"nodename={'n' * 120} " in named.fix[0]
    # a short GRES is kept as written
    (short,) = findings(
        with_driver(node("gpu:h100:8", gpus=7), pci_functions=pci(*range(1, 9))), RULE
    )
    assert short.title.startswith("SLURM gives out gpu:h100:8 here; ")


def test_the_kernel_logs_xid_79_is_evidence_too():
    log = KernelLogInfo(
        status="ok", counts=(XidCount(kind="xid", code=79, pci="0000:08:00", count=2),)
    )
    report = replace(node("gpu:8", gpus=7), hardware=HardwareInfo(kernel_log=log))
    (found,) = findings(report, RULE)
    assert "kernel log: Xid 79 (GPU has fallen off the bus) on PCI 0000:08:00 (2 times)" in (
        found.evidence
    )
    # No PCI scan in this report: the missing GPU cannot be named, only counted.
    assert "missing" not in found.evidence[0]


def test_a_gpu_the_driver_still_lists_is_named_missing_too():
    site = SiteInfo(driver_gpus=tuple(f"0000:0{b}:00.0" for b in range(1, 9)))
    (found,) = findings(node("gpu:8", gpus=7, site=site), RULE)
    assert found.evidence[0].endswith("(missing: PCI 0000:08:00.0)")


def test_more_gpus_than_the_gres_is_a_warning():
    (found,) = findings(node("gpu:h100:4", gpus=8), RULE)
    assert found.severity == Severity.WARNING
    assert found.title == "The node has 8 GPUs; SLURM gives out only gpu:h100:4"


def test_several_gpu_types_are_summed():
    assert findings(node("gpu:a100:4", "gpu:v100:2", gpus=6), RULE) == []
    assert severities(findings(node("gpu:a100:4", "gpu:v100:2", gpus=5), RULE)) == [Severity.ERROR]


@pytest.mark.parametrize("gres", [("gpu:h100:8",), ("gpu:8(S:0-1)",), ("gpu:h100:8", "nic:2")])
def test_a_full_node_is_fine(gres):
    assert findings(node(*gres), RULE) == []


@pytest.mark.parametrize("gres", [(), ("nic:2",), ("gpu",)])
def test_nothing_to_compare_without_a_gpu_count(gres):
    assert findings(node(*gres, gpus=1), RULE) == []


def test_not_asked_or_nvml_failed_with_every_gpu_on_the_bus_says_nothing():
    assert findings(healthy(), RULE) == []
    failed = with_nvml(node("gpu:8", gpus=0), status="driver_not_loaded", gpus=())
    # NVML's own finding says why it failed (and the gate drains on it)
    assert findings(with_driver(failed, pci_functions=pci(*range(1, 9))), RULE) == []


def test_a_node_without_the_gpus_its_gres_gives_out_is_an_error_when_nvml_fails_too():
    # no NVIDIA GPU on the bus, no driver: NVML was "library_not_found", GD-DRV-001 a warning,
    # and `check --health-check --drain` said "ok" on a node SLURM sells as gpu:h100:8, while
    # fleet run called the same node an error ("drain it")
    gone = with_driver(
        with_nvml(node("gpu:h100:8", gpus=0), status="library_not_found", gpus=()),
        pci_functions=(),
        module_version=None,
    )
    (found,) = findings(gone, RULE)
    assert (found.severity, found.title) == (
        Severity.ERROR,
        "SLURM gives out gpu:h100:8 here; the node has no GPU",
    )
    assert found.evidence[:2] == (
        "SLURM gives out gpu:h100:8 on gpu-07; no NVIDIA GPU on the PCI bus",
        "NVML: library_not_found",
    )
    six = with_driver(gone, pci_functions=pci(*range(1, 7)))
    (found,) = findings(six, RULE)
    assert found.title == "SLURM gives out gpu:h100:8 here; the node has only 6 GPUs"
    unbound = tuple(replace(fn, driver=None) for fn in pci(*range(1, 9)))
    (found,) = findings(with_driver(gone, pci_functions=unbound), RULE)
    assert found.title == (
        "SLURM gives out gpu:h100:8 here; the nvidia driver owns none of the 8 GPUs on its PCI bus"
    )
    unread = with_driver(gone, errors=(Unavailable(field="driver", code="x", message="no /sys"),))
    assert findings(unread, RULE) == []  # an unread bus is no missing GPU


def test_a_node_given_out_as_one_gpu_is_counted_in_the_singular_when_nvml_fails():
    # gpu:1 on a node whose one GPU is gone read 'SLURM gives out 1 GPUs on gpu-07'; the
    # title names the GRES as SLURM writes it now, and "no GPU" is singular
    gone = with_driver(
        with_nvml(node("gpu:1", gpus=0), status="library_not_found", gpus=()),
        pci_functions=(),
        module_version=None,
    )
    (found,) = findings(gone, RULE)
    assert found.title == "SLURM gives out gpu:1 here; the node has no GPU"


def test_inside_a_job_the_count_is_not_compared():
    site = SiteInfo(slurm_job=SlurmJob(job_id="42", gpu_variables={"SLURM_JOB_GPUS": "0"}))
    (found,) = findings(node("gpu:8", gpus=1, site=site), RULE)
    assert found.severity == Severity.INFO
    assert "not compared: inside a job" in found.title


def mig_node(gres: str, instances: int, gpus: int = 2) -> Report:
    devices = tuple(MigDevice(index=i) for i in range(instances))
    report = node(gres, gpus=gpus)
    return with_nvml(
        report,
        gpus=tuple(replace(g, mig_enabled=True, mig_devices=devices) for g in report.nvml.gpus),
    )


def test_with_mig_either_count_is_accepted():
    # 2 GPUs with 7 MIG devices each: AutoDetect=nvml gives gpu:14, a hand-written Gres gpu:2.
    assert findings(mig_node("gpu:14", 7), RULE) == []
    assert findings(mig_node("gpu:2", 7), RULE) == []


def test_with_mig_a_count_above_both_is_an_error_and_between_is_not_judged():
    (missing,) = findings(mig_node("gpu:21", 7), RULE)
    assert missing.severity == Severity.ERROR
    assert "2 GPUs with MIG on: 14 MIG devices and whole GPUs" in missing.evidence[0]
    (between,) = findings(mig_node("gpu:8", 7), RULE)
    assert between.severity == Severity.INFO
    assert "not compared: MIG is on" in between.title


def test_with_mig_devices_unread_only_whole_gpus_count():
    assert findings(mig_node("gpu:2", 0), RULE) == []
    (found,) = findings(mig_node("gpu:14", 0), RULE)
    assert found.severity == Severity.ERROR
    assert "MIG devices not read" in found.evidence[0]


def test_a_gpu_missing_from_its_own_pci_domain_is_named():
    # A GB200 node: its GPUs are bus 01 of domains 0008, 0009, 0018 and 0019. Before, the
    # domain was dropped, the three listed GPUs covered "01:00.0", and the lost one was
    # never named.
    domains = ("0008", "0009", "0018", "0019")
    listed = tuple(
        replace(h100(i), pci_bus_id=f"0000{d}:01:00.0") for i, d in enumerate(domains[:3])
    )
    report = replace(with_nvml(node("gpu:gb200:4", gpus=3), gpus=listed))
    functions = tuple(
        PciFunction(
            address=f"{d}:01:00.0", device_id="0x2941", class_code="0x030200", driver="nvidia"
        )
        for d in domains
    )
    (found,) = findings(with_driver(report, pci_functions=functions), RULE)
    assert "missing: PCI 0019:01:00.0" in found.evidence[0]


def test_gd_gpu_070_quotes_the_xid_79_of_the_missing_gpu_s_own_domain():
    # GPUs on bus 01 of domains 0008 and 0009, NVML lists the first: the Xid 79 on the
    # other domain's bus 01, or on a domainless 01:00 (domain 0000), is not the missing GPU's
    from gpudoctor.model.derived import same_device

    functions = tuple(
        PciFunction(
            address=f"{d}:01:00.0", device_id="0x2941", class_code="0x030200", driver="nvidia"
        )
        for d in ("0008", "0009")
    )
    listed = (replace(h100(0), pci_bus_id="00000008:01:00.0"),)
    report = with_driver(with_nvml(healthy(), gpus=listed), pci_functions=functions)
    theirs = XidCount(kind="xid", code=79, pci="0008:01:00", count=1)
    bare = XidCount(kind="xid", code=79, pci="01:00", count=1)
    (quiet,) = findings(replace(report, hardware=_log(theirs, bare)), MISSING)
    assert quiet.evidence[-1].startswith("kernel log: no Xid 79 for it")
    ours = XidCount(kind="xid", code=79, pci="0009:01:00", count=3)
    (found,) = findings(replace(report, hardware=_log(theirs, ours)), MISSING)
    assert found.evidence[-1] == (
        "kernel log: Xid 79 (GPU has fallen off the bus) on PCI 0009:01:00 (3 times)"
    )
    assert same_device("0009:01:00", "00000009:01:00.0")
    assert not same_device("01:00", "0009:01:00.0") and same_device("01:00", "0000:01:00.1")


def test_pci_addresses_in_every_spelling_are_one():
    from gpudoctor.model.derived import pci_address

    assert pci_address("00000000:9B:00.0") == pci_address("0000:9b:00.0") == "0000:9b:00.0"
    assert pci_address("0009:01:00") == "0009:01:00.0" != pci_address("0008:01:00.0")
    assert pci_address("17:00.0") == "0000:17:00.0"
    assert pci_address("not an address") == "not an address"


def test_a_gpu_lost_from_nvml_is_an_error_though_the_gres_gives_out_fewer():
    # 8 GPUs on the bus and in the driver, NVML lists 7, Gres=gpu:6: read only 'gpu-07 has
    # 7 GPUs, SLURM gives out only 6', a warning, so the gate never drained the node, though
    # gres.conf's File= names /dev/nvidiaN of the lost GPU as of the others
    site = SiteInfo(driver_gpus=tuple(f"0000:0{b}:00.0" for b in range(1, 9)))
    for gres in ("gpu:h100:6", "gpu:7"):
        report = with_driver(node(gres, gpus=7, site=site), pci_functions=pci(*range(1, 9)))
        (found,) = findings(report, RULE)
        assert found.severity == Severity.ERROR, gres
        assert found.evidence[0].endswith("NVML lists 7 GPUs (missing: PCI 0000:08:00.0)")
        assert any("state=drain" in line for line in found.fix)
    # the gate runs no site probe (no /proc/driver/nvidia/gpus): the PCI bus alone tells
    gate = with_driver(node("gpu:6", gpus=7), pci_functions=pci(*range(1, 9)))
    assert severities(findings(gate, RULE)) == [Severity.ERROR]


def test_gpus_a_container_was_not_given_are_not_lost():
    # docker with NVIDIA_VISIBLE_DEVICES=0..5: NVML lists the container's share of the 8;
    # the node has the 8 the driver owns (as the fleet counts them), none of them lost
    report = with_driver(node("gpu:4", gpus=6), pci_functions=pci(*range(1, 9)))
    report = replace(report, host=replace(report.host, container="docker"))
    (found,) = findings(report, RULE)
    assert (found.severity, found.title) == (
        Severity.WARNING,
        "The node has 8 GPUs; SLURM gives out only gpu:4",
    )


def test_where_nvml_failed_more_gpus_than_the_gres_is_a_warning_too():
    # NVML failed, the driver owns 8, Gres=gpu:6: said nothing, while the fleet warned
    failed = with_nvml(node("gpu:6", gpus=0), status="driver_not_loaded", gpus=())
    (found,) = findings(with_driver(failed, pci_functions=pci(*range(1, 9))), RULE)
    assert (found.severity, found.title) == (
        Severity.WARNING,
        "The node has 8 GPUs; SLURM gives out only gpu:6",
    )


# --- GD-GPU-070: a GPU the driver owns and NVML does not list, outside SLURM's GRES ----------

MISSING = "GD-GPU-070"


def server(listed: int = 7, owned: int = 8, **site: Any) -> Report:
    """A server with ``owned`` H100s bound to nvidia (PCI 01..) of which NVML lists ``listed``."""
    report = with_nvml(healthy(), gpus=tuple(h100(i) for i in range(listed)))
    report = with_driver(report, pci_functions=pci(*range(1, owned + 1)))
    return replace(report, site=SiteInfo(**site)) if site else report


def test_a_gpu_bound_to_nvidia_and_missing_from_nvml_is_an_error_naming_it():
    # It read all clear: 8 GPUs bound to nvidia, NVML and every framework 7, no finding
    # (GD-GPU-068 compares the bus only on a SLURM node with GRES; with no kernel log read,
    # nothing else spoke).
    assert max(f.severity for f in diagnose(server()).findings) == Severity.ERROR
    (found,) = findings(server(), MISSING)
    assert (found.severity, found.area) == (Severity.ERROR, "gpu")
    assert found.title == (
        "NVML lists 7 of the 8 GPUs the nvidia driver owns: GPU 0000:08:00.0 missing"
    )
    assert found.evidence[:2] == (
        "PCI bus: 8 GPUs bound to the nvidia driver",
        "NVML lists 7 GPUs (missing: PCI 0000:08:00.0)",
    )
    assert found.fix[0].startswith("$ sudo dmesg -T | grep -iE '0000:08:00|Xid|RmInitAdapter'")
    assert any("ExcludedGpus /proc/driver/nvidia/params" in f for f in found.fix)
    assert any("Reboot" in f and "reseat" in f for f in found.fix)


def test_several_missing_gpus_are_named_and_counted():
    (found,) = findings(server(listed=5), MISSING)
    assert found.title == (
        "NVML lists 5 of the 8 GPUs the nvidia driver owns: "
        "GPUs 0000:06:00.0, 0000:07:00.0 and 1 more missing"
    )
    assert found.evidence[1].endswith("(missing: PCI 0000:06:00.0, 0000:07:00.0, 0000:08:00.0)")


def test_the_driver_s_own_list_names_it_where_the_pci_bus_was_not_read():
    report = with_driver(
        server(driver_gpus=tuple(f"0000:0{b}:00.0" for b in range(1, 9))), pci_functions=()
    )
    (found,) = findings(report, MISSING)
    assert found.evidence[0] == "/proc/driver/nvidia/gpus lists 8"
    assert found.title.endswith("GPU 0000:08:00.0 missing")


def _log(*counts: XidCount, status: str = "ok") -> HardwareInfo:
    return HardwareInfo(kernel_log=KernelLogInfo(status=status, window_h=72, counts=counts))


def test_the_kernel_log_s_xid_79_for_that_gpu_is_evidence():
    ours = XidCount(kind="xid", code=79, pci="0000:08:00", count=2)
    other = XidCount(kind="xid", code=79, pci="0000:03:00", count=1)
    (found,) = findings(replace(server(), hardware=_log(ours, other)), MISSING)
    assert found.evidence[2:] == (
        "kernel log: Xid 79 (GPU has fallen off the bus) on PCI 0000:08:00 (2 times)",
    )
    old = replace(ours, last="2026-01-01T00:00:00Z")  # the journal's, from before the reboot
    log = replace(
        _log(old), kernel_log=replace(_log(old).kernel_log, boot_time="2026-01-02T00:00:00Z")
    )
    (rebooted,) = findings(replace(server(), hardware=log), MISSING)
    assert rebooted.evidence[2].endswith(
        "(2 times, before this boot: the reboot since did not bring it back)"
    )
    (quiet,) = findings(replace(server(), hardware=_log(other)), MISSING)
    assert quiet.evidence[2].startswith("kernel log: no Xid 79 for it in the last 72 h; ")
    assert "RmInitAdapter failed" in quiet.evidence[2]
    (unread,) = findings(replace(server(), hardware=_log(status="unreadable")), MISSING)
    assert unread.evidence[2] == (
        "kernel log: not read here, so its Xid 79 and RmInitAdapter lines were not looked for"
    )


def test_the_kernel_log_s_rm_init_adapter_lines_for_that_gpu_are_evidence():
    # A GPU that failed to start at boot: the evidence said 'a GPU that failed to start at boot
    # logs `RmInitAdapter failed` instead, which gpudoctor does not read'
    ours = InitFailure(
        pci="0000:08:00.0",
        count=6,
        last="2026-01-02T01:00:00Z",
        last_message="RmInitAdapter failed! (0x24:0x72:1568)",
    )
    other = replace(ours, pci="0000:03:00.0")
    log = HardwareInfo(
        kernel_log=KernelLogInfo(status="ok", window_h=72, init_failures=(ours, other))
    )
    (found,) = findings(replace(server(), hardware=log), MISSING)
    assert found.evidence[2:] == (
        "kernel log: the driver failed to start the GPU at PCI 0000:08:00.0 (6 lines, last "
        "2026-01-02T01:00:00Z): RmInitAdapter failed! (0x24:0x72:1568)",
    )
    none = replace(log, kernel_log=replace(log.kernel_log, init_failures=(other,)))
    (quiet,) = findings(replace(server(), hardware=none), MISSING)
    assert quiet.evidence[2] == (
        "kernel log: no Xid 79 or `RmInitAdapter failed` for it in the last 72 h"
    )


def test_an_rm_init_adapter_line_naming_no_address_is_not_said_absent():
    # Older drivers name no GPU ('NVRM: rm_init_adapter failed for device bearing minor number
    # 0'): the evidence read 'no Xid 79 or `RmInitAdapter failed` for it in the last 72 h'
    # though the log held such a line, which may be the missing GPU's
    unnamed = InitFailure(
        pci=None,
        count=2,
        last="2026-01-02T01:00:00Z",
        last_message="rm_init_adapter failed for device bearing minor number 0",
    )
    log = HardwareInfo(kernel_log=KernelLogInfo(status="ok", window_h=72, init_failures=(unnamed,)))
    (found,) = findings(replace(server(), hardware=log), MISSING)
    assert found.evidence[2:] == (
        "kernel log: no Xid 79 for it in the last 72 h; the driver failed to start a GPU it "
        "names by no PCI address (2 lines, last 2026-01-02T01:00:00Z): rm_init_adapter failed "
        "for device bearing minor number 0",
    )


def test_on_a_slurm_node_without_gres_the_fix_drains_it_as_the_gate_does():
    # the fix drained with a reason of its own ('GPU 0000:08:00.0 missing from NVML'), which
    # the health gate, draining for the same finding, never sets: a node drained from the fix
    # was not resumed by the gate once NVML listed every GPU again
    (found,) = findings(server(slurm_commands=True), MISSING)
    reason = drain_reason(MISSING, found.title)
    assert reason.startswith("gpudoctor:GPU-070 NVML lists 7 of the 8 GPUs")
    quoted = reason.replace("'", "'\\''")
    assert found.fix[2] == (
        f"$ sudo scontrol update nodename=node-17 state=drain reason='{quoted}'"
        "   # first, on a SLURM node"
    )


def test_the_drain_names_the_node_as_slurm_does():
    # it read 'nodename=gpu-07.cluster.example' (the FQDN): scontrol knows the node as gpu-07
    report = with_host(server(slurm_commands=True), hostname="gpu-07.cluster.example")
    (found,) = findings(report, MISSING)
    assert "nodename=gpu-07 state=drain" in found.fix[2]
    job = SlurmJob(job_id="9", node="n17")  # a job given no GPU: SLURMD_NODENAME
    (found,) = findings(with_host(server(slurm_job=job), hostname="login"), MISSING)
    assert "nodename=n17 state=drain" in found.fix[2]
    # SLURM's NodeName may hold a dot: SLURMD_NODENAME is written whole
    dotted = SlurmJob(job_id="9", node="rack1.n17")
    (found,) = findings(with_host(server(slurm_job=dotted), hostname="login"), MISSING)
    assert "nodename=rack1.n17 state=drain" in found.fix[2]


def test_a_redacted_report_drains_a_node_the_admin_names():
    # check --from-report on a report saved with --output (redacted by default) read
    # 'nodename=<redacted> state=drain', which a shell runs as two redirections, '<redacted'
    # and '> state=drain'; NODE, a word to replace, not $(hostname -s), which drained the
    # machine the command was pasted on (the admin's login node, for a report sent to them)
    report = redact(server(slurm_commands=True))
    (found,) = findings(report, MISSING)
    assert found.fix[2].startswith("$ sudo scontrol update nodename=NODE state=drain ")
    assert node_to_drain(with_host(report, hostname="gpu-07.cluster.example")) == "gpu-07"
    # GD-GPU-068 names the node as sinfo answered, which redaction hides as well
    gres = redact(with_host(node("gpu:h100:8", gpus=7), hostname="gpu-07"))
    assert gres.site.slurm_node.name == "<redacted>"
    (found,) = findings(gres, RULE)
    assert found.fix[0].startswith("$ sudo scontrol update nodename=NODE state=drain ")


@pytest.mark.parametrize(
    ("node", "named"),
    [
        ("gpu-07", "gpu-07"),
        # a report's value the shell expands where it is pasted (another node, the login node)
        ("$SLURMD_NODENAME", "NODE"),
        ("$(hostname -s)", "NODE"),
        ("<redacted>", "NODE"),
        ("", "NODE"),
        ("n1; reboot", "NODE"),
    ],
)
def test_a_drain_command_names_one_node_or_a_word_to_replace(node, named):
    command = drain_command(node, RULE, "t")
    reason = "reason='gpudoctor:GPU-068 t'"
    assert command == f"sudo scontrol update nodename={named} state=drain {reason}"


def test_a_redacted_host_name_is_not_pasted_as_a_redirection():
    # check --format json and -o redact the report before diagnosing: the drain read
    # 'nodename=<redacted> state=drain', which bash takes as redirections (scontrol never ran)
    report = redact(with_host(server(slurm_commands=True), hostname="gpu-07"))
    (found,) = findings(report, MISSING)
    assert found.fix[2].startswith("$ sudo scontrol update nodename=NODE state=drain reason=")
    assert "<" not in found.fix[2]


def test_every_gpu_listed_is_fine():
    assert findings(healthy(), MISSING) == []
    assert findings(server(listed=8), MISSING) == []


@pytest.mark.parametrize(
    ("container", "visible"),
    [
        ("docker", "all"),
        ("docker", None),
        ("podman", "all"),
        ("kubernetes", None),
        ("apptainer", "0,1"),
    ],
)
def test_a_container_given_some_gpus_is_not_a_gpu_missing(container, visible):
    # /sys shows the host's 8; NVML the container's share (a CUDA image says 'all' whatever
    # docker --gpus gave it)
    report = with_host(server(listed=2), container=container)
    if visible is not None:
        report = with_env(report, NVIDIA_VISIBLE_DEVICES=visible)
    assert findings(report, MISSING) == []


def test_apptainer_with_nv_is_given_every_gpu_so_one_missing_is_one_lost():
    report = with_env(with_host(server(), container="apptainer"), NVIDIA_VISIBLE_DEVICES="all")
    assert severities(findings(report, MISSING)) == [Severity.ERROR]


def test_a_slurm_job_s_share_is_not_a_gpu_missing():
    given = SlurmJob(job_id="42", gpu_variables={"SLURM_JOB_GPUS": "0,1"})
    assert findings(server(listed=2, slurm_job=given), MISSING) == []
    # a job given none: a device cgroup hides every GPU (NVML lists none), or none
    none = SlurmJob(job_id="43")
    assert findings(server(listed=0, slurm_job=none), MISSING) == []
    assert severities(findings(server(slurm_job=none), MISSING)) == [Severity.ERROR]


def test_a_cgroup_v1_device_list_naming_single_gpus_is_not_a_gpu_missing():
    narrow = DeviceAccessInfo(cgroup_version="v1", devices_list=("c 195:0 rw", "c 195:255 rw"))
    assert findings(replace(server(listed=1), device_access=narrow), MISSING) == []
    wide = DeviceAccessInfo(cgroup_version="v1", devices_list=("c 195:* rwm",))
    assert severities(findings(replace(server(), device_access=wide), MISSING)) == [Severity.ERROR]


STEP = "/system.slice/slurmstepd.scope/job_42/step_extern/user"


def v2(path: str | None, unit: tuple[str, ...] | None = None) -> DeviceAccessInfo:
    return DeviceAccessInfo(cgroup_version="v2", cgroup_path=path, unit_devices=unit)


def test_a_gpu_a_cgroup_v2_device_filter_may_hide_is_not_called_lost():
    # A login that pam_slurm_adopt put into job 42 (given GPUs 0 and 1): SLURM's cgroup v2
    # ConstrainDevices filter (eBPF, no devices.list) hides the other 6 from NVML, and the
    # environment names no job. GD-GPU-070 said 'NVML lists 2 of the 8 GPUs the nvidia driver
    # owns: GPUs 0000:03:00.0, 0000:04:00.0 and 4 more missing', an error (and so did a
    # systemd unit with DeviceAllow=/dev/nvidia0)
    adopted = replace(server(listed=2), device_access=v2(STEP))
    (found,) = findings(adopted, MISSING)
    assert found.severity == Severity.INFO
    assert found.title == (
        "NVML lists 2 of the 8 GPUs the nvidia driver owns: GPUs 0000:03:00.0, 0000:04:00.0 "
        "and 4 more may be hidden from this process by a device filter"
    )
    assert found.evidence[2] == (
        f"this process's cgroup is SLURM job 42's ({STEP}), which its environment does not "
        "name: with ConstrainDevices the job's device filter shows NVML only the GPUs the job "
        "was given"
    )
    assert "$ nvidia-smi -L" in found.fix
    unit = ("DevicePolicy=closed", "DeviceAllow=/dev/nvidia0 rw", "DeviceAllow=/dev/nvidiactl rw")
    service = replace(server(listed=1), device_access=v2("/system.slice/train.service", unit))
    (found,) = findings(service, MISSING)
    assert found.severity == Severity.INFO
    assert found.evidence[2] == (
        "systemd unit train.service (DevicePolicy=closed; DeviceAllow=/dev/nvidia0 rw; "
        "DeviceAllow=/dev/nvidiactl rw): its cgroup v2 device filter shows NVML only the "
        "devices it allows"
    )
    unread = replace(server(), device_access=v2("/system.slice/train.service"))
    (found,) = findings(unread, MISSING)
    assert found.severity == Severity.INFO and "systemctl did not give" in found.evidence[2]
    # GD-GPU-068 does not call them lost either: the node's GPUs are the driver's 8
    node_report = replace(
        adopted, site=replace(adopted.site or SiteInfo(), slurm_node=node("gpu:8").site.slurm_node)
    )
    assert [f for f in findings(node_report, RULE) if f.severity > Severity.INFO] == []
    assert severities(findings(node_report, MISSING)) == [Severity.INFO]


def test_a_gpu_lost_under_a_cgroup_v2_device_filter_is_still_an_error_with_its_xid_79():
    xid79 = XidCount(kind="xid", code=79, pci="0000:08:00", count=1)
    report = replace(server(), device_access=v2(STEP), hardware=_log(xid79))
    (found,) = findings(report, MISSING)
    assert found.severity == Severity.ERROR
    assert found.title.endswith("GPU 0000:08:00.0 missing")
    assert any(e.endswith("the kernel log says it was lost") for e in found.evidence)
    assert "Xid 79" in found.evidence[-1]


@pytest.mark.parametrize(
    ("path", "unit"),
    [
        ("/user.slice/user-1000.slice/session-3.scope", None),  # a login shell
        ("/", None),
        ("/system.slice/slurmd.service", ("DevicePolicy=auto",)),  # the health gate's
        ("/system.slice/train.service", ("DevicePolicy=auto", "DeviceAllow=char-nvidia rw")),
        (None, None),  # a report from before the path was recorded
    ],
)
def test_a_cgroup_v2_without_a_device_filter_keeps_the_error(path, unit):
    report = replace(server(), device_access=v2(path, unit))
    assert severities(findings(report, MISSING)) == [Severity.ERROR]


def test_a_container_under_a_cgroup_v2_unit_still_compares_nothing():
    # docker's systemd cgroup driver puts a container in /system.slice/docker-<id>.scope,
    # where no systemctl answers: the container's share is not judged, Xid 79 or not
    xid79 = XidCount(kind="xid", code=79, pci="0000:08:00", count=1)
    report = replace(
        with_host(server(listed=2), container="docker"),
        device_access=v2("/system.slice/docker-0123abcd.scope"),
        hardware=_log(xid79),
    )
    assert findings(report, MISSING) == []


def test_a_job_that_names_itself_is_judged_by_what_it_was_given_not_its_cgroup():
    # fleet run's check: a job given no GPU, in its own cgroup; a filter hides every GPU or
    # none, so NVML listing 7 of 8 is a GPU lost
    job = SlurmJob(job_id="42")
    report = replace(server(slurm_job=job), device_access=v2(STEP.replace("extern", "0")))
    assert severities(findings(report, MISSING)) == [Severity.ERROR]


@pytest.mark.parametrize("driver", ["vfio-pci", "pci-stub", None, "nouveau"])
def test_a_gpu_not_bound_to_nvidia_is_not_missing_from_nvml(driver):
    # GD-DRV-004/011 speak of a GPU set aside for a VM or with no driver; NVML never lists it
    eighth = replace(pci(8)[0], driver=driver)
    report = with_driver(server(), pci_functions=(*pci(*range(1, 8)), eighth))
    assert findings(report, MISSING) == []
    # the driver's own list does not make it the driver's either
    site = SiteInfo(driver_gpus=tuple(f"0000:0{b}:00.0" for b in range(1, 9)))
    assert findings(replace(report, site=site), MISSING) == []


def test_functions_that_are_no_gpu_of_their_own_are_not_missing():
    audio = PciFunction(
        address="0000:08:00.1", device_id="0x22a3", class_code="0x040300", driver="nvidia"
    )
    switch = PciFunction(
        address="0000:c5:00.0", device_id="0x22a3", class_code="0x068000", driver="nvidia"
    )
    # SR-IOV virtual functions of a listed GPU: display class, on its bus
    vfs = tuple(
        PciFunction(
            address=f"0000:01:00.{f}", device_id="0x2330", class_code="0x030200", driver="nvidia"
        )
        for f in range(4, 8)
    )
    report = with_driver(
        server(listed=8), pci_functions=(*pci(*range(1, 9)), audio, *vfs), nvswitches=(switch,)
    )
    assert findings(report, MISSING) == []


def test_mig_on_every_gpu_is_not_a_gpu_missing():
    mig = MigDevice(index=0, name="MIG 1g.10gb", uuid="MIG-0")
    report = with_nvml(
        server(listed=8),
        gpus=tuple(h100(i, mig_enabled=True, mig_devices=(mig,)) for i in range(8)),
    )
    assert findings(report, MISSING) == []


def test_nvml_failing_is_nvml_s_own_finding():
    report = with_nvml(server(listed=0), status="unknown_error", gpus=())
    assert findings(report, MISSING) == []


def test_a_gpu_nvml_lists_as_lost_is_gd_gpu_001_s_alone():
    # NVML counts 8 but has no handle for the eighth: no PCI address, GD-GPU-001 names it
    lost = GpuInfo(index=7, lost=True)
    report = with_nvml(server(listed=8), gpus=(*(h100(i) for i in range(7)), lost))
    assert findings(report, MISSING) == []
    assert severities(findings(report, "GD-GPU-001")) == [Severity.ERROR]
    # with one more not counted at all, only that one is missing: which of the two is not known
    fewer = with_nvml(server(listed=7), gpus=(*(h100(i) for i in range(6)), lost))
    (found,) = findings(fewer, MISSING)
    assert found.title == (
        "NVML lists 7 of the 8 GPUs the nvidia driver owns: 1 of PCI 0000:07:00.0, "
        "0000:08:00.0 missing"
    )
    assert found.evidence[1] == (
        "NVML lists 7 GPUs, 1 of them lost (GD-GPU-001) (missing: PCI 0000:07:00.0, 0000:08:00.0)"
    )


def test_a_slurm_node_with_gres_is_gd_gpu_068_s_alone():
    report = node("gpu:h100:8", gpus=7)
    report = with_driver(report, pci_functions=pci(*range(1, 9)))
    assert findings(report, MISSING) == []
    assert severities(findings(report, RULE)) == [Severity.ERROR]
    # a GRES with no count is not compared there: this rule speaks
    uncounted = with_driver(node("gpu", gpus=7), pci_functions=pci(*range(1, 9)))
    assert severities(findings(uncounted, MISSING)) == [Severity.ERROR]


def test_windows_and_wsl_are_not_compared():
    assert findings(with_host(server(), os="windows"), MISSING) == []
    assert findings(with_host(server(), wsl=True), MISSING) == []


def test_a_gpu_set_aside_for_a_vm_is_not_named_lost_in_the_drain_reason():
    # GD-GPU-068 named a GPU bound to vfio-pci 'lost' ('GRES gpu:h100:8, NVML 7: GPU
    # 0000:08:00.0 lost'): it was never the driver's; the node still gives out one GPU too many
    vfio = replace(pci(8)[0], driver="vfio-pci")
    report = with_driver(node("gpu:h100:8", gpus=7), pci_functions=(*pci(*range(1, 8)), vfio))
    (found,) = findings(report, RULE)
    assert found.severity == Severity.ERROR
    assert found.title == (
        "SLURM gives out gpu:h100:8 here; the nvidia driver owns only 7 of the 8 GPUs on its "
        "PCI bus"
    )
    assert "lost" not in found.fix[0] and "missing" not in found.evidence[0]


def test_a_gpu_the_installed_driver_cannot_drive_is_gd_drv_007_s_alone():
    # An RTX 5090 (Blackwell, 10de:2c58) beside an H100 on the proprietary module: bound to
    # nvidia, never started. GD-DRV-007 names it with the open module to install; rebooting
    # or reseating, as GD-GPU-070's fix says, would not help.
    blackwell = PciFunction(
        address="0000:02:00.0", device_id="0x2c58", class_code="0x030000", driver="nvidia"
    )
    line = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.105.08  Wed Oct 29 2025"
    report = with_driver(
        server(listed=1, owned=1),
        pci_functions=(*pci(1), blackwell),
        proc_version_line=line,
        module_flavour="proprietary",
    )
    assert findings(report, MISSING) == []
    assert severities(findings(report, "GD-DRV-007")) == [Severity.ERROR]
    # an H100 missing beside it is still named, alone
    report = with_driver(report, pci_functions=(*pci(1, 3), blackwell))
    (found,) = findings(report, MISSING)
    assert found.title == (
        "NVML lists 1 of the 3 GPUs the nvidia driver owns: GPU 0000:03:00.0 missing"
    )
    assert found.evidence[0] == (
        "PCI bus: 3 GPUs bound to the nvidia driver; PCI 0000:02:00.0: the installed driver "
        "cannot drive it (GD-DRV-007, -008 or -009)"
    )


def test_a_refused_gpu_is_not_counted_as_one_nvml_lost():
    # 7 listed, one of them lost with no address, one Blackwell GD-DRV-007 names, one more
    # missing: NVML is short of one GPU, not two; the two addresses are 'one of' them
    blackwell = PciFunction(
        address="0000:09:00.0", device_id="0x2c58", class_code="0x030000", driver="nvidia"
    )
    line = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.105.08  Wed Oct 29 2025"
    lost = GpuInfo(index=6, lost=True)
    report = with_nvml(server(listed=7), gpus=(*(h100(i) for i in range(6)), lost))
    report = with_driver(
        report,
        pci_functions=(*pci(*range(1, 9)), blackwell),
        proc_version_line=line,
        module_flavour="proprietary",
    )
    (found,) = findings(report, MISSING)
    assert found.title == (
        "NVML lists 7 of the 9 GPUs the nvidia driver owns: 1 of PCI 0000:07:00.0, "
        "0000:08:00.0 missing"
    )


def test_gd_gpu_068_calls_a_gpu_the_driver_refuses_refused_not_lost():
    # A Blackwell on the proprietary module beside 7 H100s, GRES gpu:h100:8: GD-DRV-007
    # names it; GD-GPU-068's title and drain read '...: GPU 0000:09:00.0 lost', as if it had
    # fallen off the bus. The drain stays: the node cannot give it out.
    blackwell = PciFunction(
        address="0000:09:00.0", device_id="0x2c58", class_code="0x030000", driver="nvidia"
    )
    line = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.105.08  Wed Oct 29 2025"
    report = with_driver(
        node("gpu:h100:8", gpus=7),
        pci_functions=(*pci(*range(1, 8)), blackwell),
        proc_version_line=line,
        module_flavour="proprietary",
    )
    (found,) = findings(report, RULE)
    assert found.severity == Severity.ERROR
    assert found.title == (
        "SLURM gives out gpu:h100:8 here; NVML lists only 7 GPUs of the node's 8: "
        "GPU 0000:09:00.0 refused by the driver"
    )
    assert "lost" not in found.fix[0] and "refused by the driver" in found.fix[0]
    assert found.fix[0].startswith("$ sudo scontrol update nodename=gpu-07 state=drain")
    # one lost beside it is still lost
    report = with_driver(report, pci_functions=(*pci(*range(1, 9)), blackwell))
    (found,) = findings(report, RULE)
    assert found.title.endswith(": GPU 0000:08:00.0 lost; GPU 0000:09:00.0 refused by the driver")


# --- NVreg_ExcludedGpus: a GPU the admin set aside is not a lost one -----------------------

EXCLUDED_UUID = "GPU-5d5e7c4a-3b1e-9c3f-1e8a-2f1d0c9b8a77"


def excluding(report: Report, *buses: int, param: tuple[str, ...] | None = None) -> Report:
    """``report`` on a driver that excluded the GPUs on ``buses`` (as NVML names them)."""
    excluded = tuple(
        ExcludedGpu(pci_bus_id=f"00000000:0{b}:00.0", uuid=EXCLUDED_UUID) for b in buses
    )
    report = with_nvml(report, excluded_gpus=excluded)
    return with_driver(report, excluded_gpus=param if param is not None else (EXCLUDED_UUID,))


def test_a_gpu_excluded_by_nvreg_excludedgpus_is_information_not_an_error():
    # It read 'NVML lists 7 of the 8 GPUs the nvidia driver owns: GPU 0000:08:00.0 missing',
    # an error sending the admin to reboot, reseat or RMA a GPU they set aside on purpose.
    (found,) = findings(excluding(server(), 8), MISSING)
    assert found.severity == Severity.INFO
    assert found.title == (
        "GPU 0000:08:00.0 is excluded from the driver by NVreg_ExcludedGpus: not used here, "
        "on purpose?"
    )
    assert found.evidence == (
        f"NVML: excluded by the driver: PCI 00000000:08:00.0 ({EXCLUDED_UUID}); "
        f'/proc/driver/nvidia/params: ExcludedGpus "{EXCLUDED_UUID}"',
    )
    assert not any("RMA" in f or "Reboot" in f for f in found.fix)


def test_a_gpu_lost_beside_an_excluded_one_is_still_an_error():
    found = findings(excluding(server(listed=6), 8), MISSING)
    assert severities(found) == [Severity.INFO, Severity.ERROR]
    error = found[1]
    assert error.title == (
        "NVML lists 6 of the 8 GPUs the nvidia driver owns: GPU 0000:07:00.0 missing"
    )
    assert "/proc/driver/nvidia/params: NVreg_ExcludedGpus excludes none of them" in (
        error.evidence
    )
    assert not any("grep ExcludedGpus" in f for f in error.fix)  # the report said it already


def test_an_exclusion_nvml_cannot_place_is_said_beside_the_error():
    # a driver without nvmlGetExcludedDeviceInfoByIndex: the parameter's UUID, no address
    report = with_driver(server(), excluded_gpus=(EXCLUDED_UUID,))
    (found,) = findings(report, MISSING)
    assert found.severity == Severity.ERROR
    assert (
        f'/proc/driver/nvidia/params: ExcludedGpus "{EXCLUDED_UUID}"; NVML cannot say which '
        "GPU that is here (nvmlGetExcludedDeviceInfoByIndex): one missing may be excluded on "
        "purpose"
    ) in found.evidence


def test_gd_gpu_068_says_the_node_gives_out_a_gpu_the_admin_excluded():
    report = with_driver(node("gpu:h100:8", gpus=7), pci_functions=pci(*range(1, 9)))
    report = excluding(report, 8)
    (found,) = findings(report, RULE)
    assert found.severity == Severity.ERROR
    assert found.title == (
        "SLURM gives out gpu:h100:8 here; NVML lists only 7 GPUs of the node's 8: "
        "GPU 0000:08:00.0 excluded by NVreg_ExcludedGpus"
    )
    assert found.fix[0].startswith("$ sudo scontrol update nodename=gpu-07 state=drain")
    assert "excluded on purpose?" in found.fix[1]
    # its GRES giving out the 7 in use is right: no error; the exclusion is information
    fine = replace(
        report,
        site=replace(report.site, slurm_node=replace(report.site.slurm_node, gres=("gpu:h100:7",))),
    )
    assert findings(fine, RULE) == []
    assert severities(findings(fine, MISSING)) == [Severity.INFO]


def test_gd_gpu_068_quotes_the_rm_init_adapter_lines_of_the_gpu_it_lost_too():
    failed = InitFailure(pci="0000:08:00.0", count=2, last_message="RmInitAdapter failed! (0x1)")
    log = HardwareInfo(kernel_log=KernelLogInfo(status="ok", init_failures=(failed,)))
    report = with_driver(node("gpu:h100:8", gpus=7), pci_functions=pci(*range(1, 9)))
    (found,) = findings(replace(report, hardware=log), RULE)
    assert found.evidence[-1] == (
        "kernel log: the driver failed to start the GPU at PCI 0000:08:00.0 (2 lines): "
        "RmInitAdapter failed! (0x1)"
    )


def test_a_machine_whose_every_gpu_is_excluded_is_not_nvml_seeing_no_gpu():
    # One GPU, excluded: it read 'NVML started but sees no GPU' (GD-NVML-009), an error
    report = excluding(server(listed=0, owned=1), 1)
    assert findings(report, "GD-NVML-009") == []
    (found,) = findings(report, MISSING)
    assert found.severity == Severity.INFO
    assert found.title.startswith("GPU 0000:01:00.0 is excluded from the driver")
    # a second GPU, not excluded and not listed either: NVML-009's error again
    two = with_driver(report, pci_functions=pci(1, 2))
    assert severities(findings(two, "GD-NVML-009")) == [Severity.ERROR]


@pytest.mark.parametrize("container", ["docker", "kubernetes"])
def test_every_gpu_excluded_is_said_in_a_container_too(container):
    # GD-NVML-009 is silent where every GPU is excluded, and GD-GPU-070 compares nothing in a
    # container: a container on a host whose one GPU is excluded read no finding at all on
    # NVML listing no GPU (information on unchecked health alone), where GD-NVML-009 had said
    # 'NVML started but sees no GPU'
    report = excluding(server(listed=0, owned=1), 1)
    report = replace(report, host=replace(report.host, container=container))
    assert findings(report, "GD-NVML-009") == []
    (found,) = findings(report, MISSING)
    assert found.severity == Severity.INFO
    assert found.title.startswith("GPU 0000:01:00.0 is excluded from the driver")
    # one excluded of two, NVML listing the other: the container's share, nothing said
    two = with_nvml(excluding(server(listed=1, owned=2), 2), gpus=(h100(0),))
    assert findings(replace(two, host=replace(two.host, container=container)), MISSING) == []
