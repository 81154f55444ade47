"""The rule on PCIe ACS redirect above the GPUs: peer-to-peer sent up through the CPU."""

from __future__ import annotations

from collections.abc import Iterator

from gpudoctor.model import shell
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import IommuInfo, PcieBridgeAcs, Report
from gpudoctor.rules.distro import add_kernel_args
from gpudoctor.rules.facts import gpus, sudo_check
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

NCCL_GUIDE = (
    "https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/troubleshooting.html "
    "(PCI Access Control Services (ACS))"
)
SHOWN = 8
"""Bridges named one by one in the evidence and the fix (an 8-GPU box has about 16)."""


def _iommu(report: Report) -> IommuInfo | None:
    return report.hardware.iommu if report.hardware is not None else None


def pci_gpus(iommu: IommuInfo) -> set[str]:
    """The NVIDIA GPUs the PCI bus showed: below a bridge, or in an IOMMU group."""
    return {g for b in iommu.bridges or () for g in b.gpus} | set(iommu.gpu_groups)


def _bridge_line(bridge: PcieBridgeAcs) -> str:
    below = ", ".join(bridge.gpus[:4]) + (" ..." if len(bridge.gpus) > 4 else "")
    control = f"0x{bridge.control:04x}" if bridge.control is not None else "?"
    return f"{bridge.bridge} (above GPU {below}): ACS Control {control}: {' '.join(bridge.enabled)}"


def _more(count: int) -> tuple[str, ...]:
    return (f"... and {count - SHOWN} more",) if count > SHOWN else ()


@rule(
    "GD-HOST-060",
    area="host",
    severity=Severity.WARNING,
    severities=(Severity.WARNING, Severity.INFO),
    title="PCIe ACS redirects GPU peer-to-peer traffic to the CPU: NCCL may hang",
    why="With ACS P2P Request Redirect, Completion Redirect or Egress Control on in a PCIe "
    "switch port above the GPUs, peer-to-peer transfers that could cross the switch directly "
    "are sent up to the CPU's root complex instead: NCCL's troubleshooting guide names this "
    "as a cause of hangs and much lower bandwidth, and says to disable ACS on PCI switches. "
    "Linux turns these bits on at boot on every bridge that supports them whenever an IOMMU "
    "is in use, `iommu=pt` included. gpudoctor reads the ACS Control register of every "
    "bridge between each GPU and the root complex from the bridge's `config` file in /sys, "
    "which the kernel shows in full to root only. Run as root, a switch port with redirect "
    "on is a warning where the GPUs talk over PCIe, and also where NVLink carries GPU-to-GPU "
    "traffic but InfiniBand/RoCE ports are present (GPUDirect RDMA between a GPU and its NIC "
    "crosses the same switches); information on an NVLink machine without such ports, and "
    "where only root ports redirect (GPUs below different root ports meet in the root "
    "complex anyway). Not run as root on a machine where it would matter, the finding is "
    "information that says ACS needs root to read (where a GPU sits behind a PCIe switch); "
    "in a container, root on the host: the kernel shows the whole `config` file only to "
    "CAP_SYS_ADMIN, which a container's root lacks. "
    "Machines with one GPU are not judged.",
    fix="Disable ACS on the bridges named, as NCCL's guide shows: `sudo setpci -s BRIDGE "
    "ECAP_ACS+0x6.w=0000` for each (undone at every reboot, so run it from a boot-time "
    "service), or for good with the kernel parameter `pci=disable_acs_redir=BRIDGE[;BRIDGE...]`, "
    "or by turning IO virtualization (VT-d / IOMMU) off in the BIOS. Check with "
    "`sudo lspci -vvv | grep ACSCtl` (`ReqRedir- CmpltRedir-`) and `nccl-tests`.",
    sources=(
        NCCL_GUIDE,
        "https://github.com/torvalds/linux/blob/master/include/uapi/linux/pci_regs.h "
        "(PCI_EXT_CAP_ID_ACS, PCI_ACS_CTRL, PCI_ACS_RR, PCI_ACS_CR, PCI_ACS_EC)",
        "https://github.com/torvalds/linux/blob/master/drivers/pci/pci.c "
        "(pci_std_enable_acs: SV, RR, CR and UF on once an IOMMU driver called "
        "pci_request_acs, as drivers/iommu/intel/dmar.c and drivers/iommu/amd/init.c do)",
        "https://github.com/torvalds/linux/blob/master/drivers/pci/pci-sysfs.c "
        "(pci_read_config: 64 bytes without CAP_SYS_ADMIN)",
        "https://www.kernel.org/doc/html/latest/admin-guide/kernel-parameters.html "
        "(pci=disable_acs_redir)",
    ),
)
def acs_redirect(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    iommu = _iommu(report)
    if iommu is None or not iommu.bridges:
        return
    listed = gpus(report)
    if max(len(listed), len(pci_gpus(iommu))) < 2:
        return  # one GPU has no peer to talk to
    over_nvlink = bool(listed) and all(g.nvlinks_up for g in listed)
    rdma = bool(report.hardware.ib_ports) if report.hardware is not None else False
    matters = not over_nvlink or rdma
    bridges = iommu.bridges
    redirecting = [b for b in bridges if b.status == "read" and b.redirects]
    if redirecting:
        yield _redirect_hit(report, iommu, redirecting, over_nvlink=over_nvlink, rdma=rdma)
    elif iommu.acs_readable is False and matters and any(b.root_port is False for b in bridges):
        # only a switch port's redirect is worth a warning, and the path says where they are
        names = [b.bridge for b in bridges if b.status == "needs_root"]
        evidence = (
            f"{len(names)} bridge{'s' if len(names) != 1 else ''} between the GPUs and "
            f"the CPU: {', '.join(names[:SHOWN])}" + (" ..." if len(names) > SHOWN else ""),
            "a user's read of their config files stops at 64 bytes; ACS lies beyond",
        )
        container = report.host.container
        if container:
            article = "an" if container[0] in "aeiou" else "a"
            where = (
                "a container" if container == "container" else f"{article} {container} container"
            )
            # root in a container is not enough: the kernel asks for CAP_SYS_ADMIN, which
            # docker and podman drop and apptainer never gives; sudo inside changes nothing
            yield Hit(
                severity=Severity.INFO,
                title="PCIe ACS above the GPUs was not read: it needs root on the host, "
                "outside the container",
                evidence=(
                    *evidence,
                    f"in {where}: the full read needs CAP_SYS_ADMIN, which a container's "
                    "root does not have",
                ),
                fix=(f"$ {sudo_check(report)}   # on the host",),
            )
            return
        yield Hit(
            severity=Severity.INFO,
            title="PCIe ACS above the GPUs was not read: it needs root (a check run with sudo)",
            evidence=evidence,
            fix=(f"$ {sudo_check(report)}",),
        )


def _redirect_hit(
    report: Report,
    iommu: IommuInfo,
    redirecting: list[PcieBridgeAcs],
    *,
    over_nvlink: bool,
    rdma: bool,
) -> Hit:
    shown = redirecting[:SHOWN]
    evidence = [_bridge_line(b) for b in shown]
    evidence += _more(len(redirecting))
    if iommu.cmdline:
        evidence.append(f"kernel command line: {' '.join(iommu.cmdline)}")
    severity, title = None, None
    if all(b.root_port for b in redirecting):
        # GPUs below different root ports meet in the root complex whatever ACS says; NCCL's
        # guide asks for ACS off on PCIe switches, where it turns a direct path into a detour.
        severity = Severity.INFO
        title = "PCIe ACS redirect is on at the root ports above the GPUs (no PCIe switch port)"
    elif over_nvlink and rdma:
        title = (
            "PCIe ACS redirects GPUDirect RDMA between the GPUs and the NICs to the CPU: "
            "multi-node NCCL slows down"
        )
    elif over_nvlink:
        severity = Severity.INFO
        title = "PCIe ACS redirect is on above the GPUs (their NVLinks carry peer traffic)"
    bridges = [shell.matching(b.bridge, shell.PCI_ADDRESS, "BUS_ID") for b in shown]
    return Hit(
        severity=severity,
        title=title,
        evidence=tuple(evidence),
        fix=(
            *(f"$ sudo setpci -s {b} ECAP_ACS+0x6.w=0000" for b in bridges),
            "(undone at reboot) or for good:",
            *add_kernel_args(report, f"pci=disable_acs_redir={';'.join(bridges)}"),
            "$ sudo lspci -vvv | grep ACSCtl   # then: ReqRedir- CmpltRedir-",
        ),
    )
