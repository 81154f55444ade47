"""GD-HOST-060: ACS redirect on the bridges above the GPUs, and ACS that needed root to read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import HardwareInfo, IbPort, IommuInfo, PcieBridgeAcs, Report
from gpudoctor.probe.base import ProbeContext
from gpudoctor.probe.hardware import iommu as probe_iommu
from tests.probe.pci_tree import built_config, lspci_dumps, pci_device
from tests.rules.builders import acs_switch, findings, h100, healthy, with_host, with_nvml
from tests.rules.test_hardware_links import NONE, UNKNOWN, links

HASWELL_ROOT_PORT = lspci_dumps("haswell-e-root-port-acs-on.txt")["00:02.0"]
"""Real: an Intel Haswell-E root port with SrcValid TransBlk ReqRedir CmpltRedir UpstreamFwd."""
X58_ROOT_PORT = lspci_dumps("x58-root-port-acs-off.txt")["00:01.0"]
"""Real: an Intel X58 root port with ACS, every control bit off."""
IB = IbPort(device="mlx5_0", port=1, state="ACTIVE", rate_gbps=400.0, link_layer="InfiniBand")


def pcie_gpus(report: Report, count: int = 2, nvlinks=NONE) -> Report:
    listed = tuple(replace(h100(i), name="NVIDIA L40S", **nvlinks) for i in range(count))
    return with_nvml(report, gpus=listed)


def with_iommu(report: Report, iommu: IommuInfo, ports: tuple[IbPort, ...] = ()) -> Report:
    return replace(report, hardware=HardwareInfo(iommu=iommu, ib_ports=ports))


def probed(tmp_path: Path, root_port: bytes, gpus: int = 2) -> IommuInfo:
    """The IOMMU probe's record of a fake /sys: ``gpus`` GPUs, each below its own root port."""
    for i in range(gpus):
        port = f"0000:00:0{i + 1}.0"
        pci_device(tmp_path, [port], root_port)
        pci_device(tmp_path, [port, f"0000:{i + 0x17:02x}:00.0"], gpu=True)
    found = probe_iommu(ProbeContext(root=tmp_path, env={}))
    assert found is not None
    return found


def test_real_redirecting_root_ports_alone_are_information(tmp_path):
    # each GPU below its own root port: they meet in the root complex whatever ACS says
    report = with_iommu(pcie_gpus(healthy()), probed(tmp_path, HASWELL_ROOT_PORT))
    (found,) = findings(report, "GD-HOST-060")
    assert found.severity == Severity.INFO
    assert found.title == (
        "PCIe ACS redirect is on at the root ports above the GPUs (no PCIe switch port)"
    )
    assert found.evidence == (
        "0000:00:01.0 (above GPU 0000:17:00.0): ACS Control 0x001f: "
        "SrcValid TransBlk ReqRedir CmpltRedir UpstreamFwd",
        "0000:00:02.0 (above GPU 0000:18:00.0): ACS Control 0x001f: "
        "SrcValid TransBlk ReqRedir CmpltRedir UpstreamFwd",
    )
    assert found.fix == (
        "$ sudo setpci -s 0000:00:01.0 ECAP_ACS+0x6.w=0000",
        "$ sudo setpci -s 0000:00:02.0 ECAP_ACS+0x6.w=0000",
        "(undone at reboot) or for good:",
        "Add pci=disable_acs_redir=0000:00:01.0;0000:00:02.0 to GRUB_CMDLINE_LINUX in "
        "/etc/default/grub, then: $ sudo update-grub && sudo reboot",
        "$ sudo lspci -vvv | grep ACSCtl   # then: ReqRedir- CmpltRedir-",
    )
    # Before, 'in GRUB_CMDLINE_LINUX' alone: on Rocky Linux the setting is made with grubby
    rocky = with_host(report, os_release="Rocky Linux 9.4 (Blue Onyx)")
    (found,) = findings(rocky, "GD-HOST-060")
    assert found.fix[3] == (
        '$ sudo grubby --update-kernel=ALL --args="pci=disable_acs_redir=0000:00:01.0;'
        '0000:00:02.0" && sudo reboot'
    )


def test_real_root_ports_with_acs_off_are_fine(tmp_path):
    report = with_iommu(pcie_gpus(healthy()), probed(tmp_path, X58_ROOT_PORT))
    assert findings(report, "GD-HOST-060") == []


def test_one_gpu_is_never_judged(tmp_path):
    report = with_iommu(pcie_gpus(healthy(), count=1), probed(tmp_path, HASWELL_ROOT_PORT, 1))
    assert findings(report, "GD-HOST-060") == []
    unread = with_iommu(pcie_gpus(healthy(), count=1), probed(tmp_path, HASWELL_ROOT_PORT[:64], 1))
    assert findings(unread, "GD-HOST-060") == []


def test_no_gpu_no_finding():
    assert findings(with_iommu(healthy(), IommuInfo(groups=0, bridges=())), "GD-HOST-060") == []
    assert findings(with_nvml(healthy(), gpus=()), "GD-HOST-060") == []


def test_switch_downstream_ports_redirecting_name_each_bridge():
    report = with_iommu(pcie_gpus(healthy()), acs_switch(0x001D))
    (found,) = findings(report, "GD-HOST-060")
    assert found.severity == Severity.WARNING
    assert found.evidence == (
        "0000:02:08.0 (above GPU 0000:03:00.0): ACS Control 0x001d: "
        "SrcValid ReqRedir CmpltRedir UpstreamFwd",
        "0000:02:10.0 (above GPU 0000:04:00.0): ACS Control 0x001d: "
        "SrcValid ReqRedir CmpltRedir UpstreamFwd",
        "kernel command line: intel_iommu=on iommu=pt",
    )


def test_source_validation_alone_redirects_nothing():
    report = with_iommu(pcie_gpus(healthy()), acs_switch(0x0011))  # SrcValid, UpstreamFwd
    assert findings(report, "GD-HOST-060") == []


def test_egress_control_alone_counts():
    iommu = acs_switch(0)
    bridges = (
        iommu.bridges[0],
        replace(iommu.bridges[1], control=0x20, enabled=("EgressCtrl",)),
    )
    report = with_iommu(pcie_gpus(healthy()), replace(iommu, bridges=bridges))
    (found,) = findings(report, "GD-HOST-060")
    assert found.evidence[0].endswith("ACS Control 0x0020: EgressCtrl")


def test_nvlink_with_rdma_ports_still_warns_for_gpudirect_rdma():
    nvlinked = pcie_gpus(healthy(), nvlinks=links(18))
    (found,) = findings(with_iommu(nvlinked, acs_switch(0x001D), ports=(IB,)), "GD-HOST-060")
    assert found.severity == Severity.WARNING and "GPUDirect RDMA" in found.title
    (quiet,) = findings(with_iommu(nvlinked, acs_switch(0x001D)), "GD-HOST-060")
    assert quiet.severity == Severity.INFO and "NVLinks carry peer traffic" in quiet.title


def test_unknown_nvlinks_count_as_pcie():
    report = with_iommu(pcie_gpus(healthy(), nvlinks=UNKNOWN), acs_switch(0x001D))
    (found,) = findings(report, "GD-HOST-060")
    assert found.severity == Severity.WARNING and "NCCL may hang" in found.title


def switched(tmp_path: Path, root_port: bytes, port: bytes) -> IommuInfo:
    """The probe's record of two GPUs below two switch downstream ports below one root port."""
    top = ["0000:00:02.0"]
    pci_device(tmp_path, top, root_port)
    for bridge, gpu in (("0000:02:08.0", "0000:03:00.0"), ("0000:02:10.0", "0000:04:00.0")):
        pci_device(tmp_path, [*top, bridge], port)
        pci_device(tmp_path, [*top, bridge, gpu], gpu=True)
    found = probe_iommu(ProbeContext(root=tmp_path, env={}))
    assert found is not None
    return found


def test_not_root_on_a_pcie_box_says_once_that_acs_needs_root(tmp_path):
    # what a user's read gives: the first 64 bytes of the real root port and of the ports
    unread = switched(tmp_path, HASWELL_ROOT_PORT[:64], built_config(0x001D)[:64])
    translated = dict.fromkeys(("0000:03:00.0", "0000:04:00.0"), "DMA-FQ")
    report = with_iommu(pcie_gpus(healthy()), replace(unread, gpu_groups=translated))
    (found,) = findings(report, "GD-HOST-060")
    assert found.severity == Severity.INFO
    # the title said '(sudo gpudoctor check)', the command its fix no longer gives: typed as
    # read, 'command not found' wherever gpudoctor is in a venv or ~/.local/bin
    assert (
        found.title == "PCIe ACS above the GPUs was not read: it needs root (a check run with sudo)"
    )
    assert found.evidence[0] == (
        "3 bridges between the GPUs and the CPU: 0000:00:02.0, 0000:02:08.0, 0000:02:10.0"
    )
    # sudo's secure_path has no virtual environment or ~/.local/bin: 'sudo gpudoctor check'
    # answered 'command not found' wherever gpudoctor was installed with pip --user or pipx
    assert found.fix == ('$ sudo "$(command -v gpudoctor)" check',)
    # nothing is claimed about ACS itself, and GD-HOST-059 does not say it again
    assert not any("ReqRedir" in line for line in found.evidence)
    (iommu_finding,) = findings(report, "GD-HOST-059")
    assert not any("root" in line for line in iommu_finding.evidence)


def test_not_root_where_gpudoctor_ran_as_python_m_names_the_interpreter(tmp_path):
    # with no gpudoctor on PATH (python -m gpudoctor from a venv) the fix read
    # 'sudo "$(command -v gpudoctor)" check', which the shell makes 'sudo "" check'
    unread = switched(tmp_path, HASWELL_ROOT_PORT[:64], built_config(0x001D)[:64])
    translated = dict.fromkeys(("0000:03:00.0", "0000:04:00.0"), "DMA-FQ")
    report = with_iommu(pcie_gpus(healthy()), replace(unread, gpu_groups=translated))
    venv = ("/home/ada/env/bin/python", "-m", "gpudoctor")
    (found,) = findings(with_host(report, gpudoctor_command=venv), "GD-HOST-060")
    assert found.fix == ("$ sudo /home/ada/env/bin/python -m gpudoctor check",)
    on_path = with_host(report, gpudoctor_command=("gpudoctor",))
    assert findings(on_path, "GD-HOST-060")[0].fix == ('$ sudo "$(command -v gpudoctor)" check',)


def test_in_a_container_acs_needs_root_on_the_host_not_sudo():
    # root in a docker container still reads 64 bytes (no CAP_SYS_ADMIN): sudo inside is no fix
    report = with_iommu(
        pcie_gpus(with_host(healthy(), container="docker")), acs_switch(None, "needs_root")
    )
    (found,) = findings(report, "GD-HOST-060")
    assert found.severity == Severity.INFO
    assert found.title == (
        "PCIe ACS above the GPUs was not read: it needs root on the host, outside the container"
    )
    assert found.evidence[-1] == (
        "in a docker container: the full read needs CAP_SYS_ADMIN, which a container's root "
        "does not have"
    )
    assert found.fix == ('$ sudo "$(command -v gpudoctor)" check   # on the host',)
    other = with_iommu(
        pcie_gpus(with_host(healthy(), container="container")), acs_switch(None, "needs_root")
    )
    (found,) = findings(other, "GD-HOST-060")
    assert found.evidence[-1].startswith("in a container: ")
    apptainer = replace(other, host=replace(other.host, container="apptainer"))
    (found,) = findings(apptainer, "GD-HOST-060")
    assert found.evidence[-1].startswith("in an apptainer container: ")


def test_not_root_without_a_switch_says_nothing(tmp_path):
    # GPUs below their own root ports: whatever ACS says there is information at most
    unread = probed(tmp_path, HASWELL_ROOT_PORT[:64])
    assert unread.acs_readable is False
    assert findings(with_iommu(pcie_gpus(healthy()), unread), "GD-HOST-060") == []


def test_not_root_where_acs_would_not_matter_says_nothing():
    nvlinked = pcie_gpus(healthy(), nvlinks=links(18))
    assert findings(with_iommu(nvlinked, acs_switch(None, "needs_root")), "GD-HOST-060") == []
    with_ib = with_iommu(nvlinked, acs_switch(None, "needs_root"), ports=(IB,))
    (found,) = findings(with_ib, "GD-HOST-060")
    assert found.severity == Severity.INFO


def test_a_report_without_bridges_is_not_judged():
    old = with_iommu(pcie_gpus(healthy()), IommuInfo(groups=3, gpu_groups={"a": "DMA"}))
    assert findings(old, "GD-HOST-060") == []


def test_a_bridge_without_acs_or_unreadable_is_no_finding():
    for status in ("absent", "unreadable"):
        assert (
            findings(with_iommu(pcie_gpus(healthy()), acs_switch(None, status)), "GD-HOST-060")
            == []
        )


def test_many_bridges_are_cut_at_eight():
    bridges = tuple(
        PcieBridgeAcs(
            bridge=f"0000:{i:02x}:00.0",
            gpus=(f"0000:{i + 0x40:02x}:00.0",),
            status="read",
            capability=0x5F,
            control=0x1D,
            enabled=("SrcValid", "ReqRedir", "CmpltRedir", "UpstreamFwd"),
        )
        for i in range(10)
    )
    iommu = IommuInfo(groups=0, bridges=bridges, acs_readable=True)
    (found,) = findings(with_iommu(pcie_gpus(healthy()), iommu), "GD-HOST-060")
    assert len(found.evidence) == 9 and found.evidence[-1] == "... and 2 more"
    assert sum(line.startswith("$ sudo setpci") for line in found.fix) == 8


def test_the_built_switch_port_reads_as_the_model_says(tmp_path):
    # the spec-built downstream port (no public dump found) through the probe, for one check
    top = ["0000:00:01.0"]
    pci_device(tmp_path, top, X58_ROOT_PORT)
    for port, gpu in (("0000:02:08.0", "0000:03:00.0"), ("0000:02:10.0", "0000:04:00.0")):
        pci_device(tmp_path, [*top, port], built_config(0x001D))
        pci_device(tmp_path, [*top, port, gpu], gpu=True)
    found = probe_iommu(ProbeContext(root=tmp_path, env={}))
    assert found is not None and found.bridges is not None
    assert found.bridges[1:] == acs_switch(0x001D).bridges[1:]


def test_a_real_redirecting_root_port_above_a_redirecting_switch_warns(tmp_path):
    iommu = switched(tmp_path, HASWELL_ROOT_PORT, built_config(0x001D))
    (found,) = findings(with_iommu(pcie_gpus(healthy()), iommu), "GD-HOST-060")
    assert found.severity == Severity.WARNING
    assert found.title == "PCIe ACS redirects GPU peer-to-peer traffic to the CPU: NCCL may hang"
    assert [line.split(" ")[0] for line in found.evidence] == [
        "0000:00:02.0",
        "0000:02:08.0",
        "0000:02:10.0",
    ]
