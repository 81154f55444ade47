"""The GPU count rule: the GPUs NVML lists against the GPUs SLURM gives out on this node."""

from __future__ import annotations

from collections.abc import Iterator

from gpudoctor.model import shell
from gpudoctor.model.derived import (
    all_excluded,
    device_filter,
    env,
    excluded_gpus,
    is_gpu_function,
    missing_from_nvml,
    node_gpu_count,
    nvml_sees_the_node,
    owned_gpu_function,
    pci_address,
    pci_bus_unreadable,
    same_device,
)
from gpudoctor.model.findings import Severity
from gpudoctor.model.gres_count import GRES_COUNT_ID, plural, short_title, surplus_title
from gpudoctor.model.report import GpuInfo, Report, SlurmNodeGres
from gpudoctor.model.slurm import (
    GpuCounts,
    NodeGpuGres,
    drain_command,
    judge_gres,
    node_gpu_gres,
    node_to_drain,
)
from gpudoctor.rules.facts import gpus
from gpudoctor.rules.hardware_log import before_boot
from gpudoctor.rules.kernel_module import refused_gpus
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

MISSING_ID = "GD-GPU-070"
"""GPUs the nvidia driver owns that NVML does not list (:func:`gpus_missing_from_nvml`)."""
XID_OFF_THE_BUS = 79
"""Xid 79: GPU has fallen off the bus (NVIDIA's Xid catalogue)."""


def _xid79(report: Report) -> list[str]:
    """``Xid 79 on PCI 0000:17:00 (2 times)`` for each device the kernel log names."""
    log = report.hardware.kernel_log if report.hardware is not None else None
    if log is None:
        return []
    return [
        f"kernel log: Xid 79 (GPU has fallen off the bus) on PCI {c.pci or 'unnamed'}"
        f" ({plural(c.count, 'time')})"
        for c in log.counts
        if c.kind == "xid" and c.code == XID_OFF_THE_BUS
    ]


def _mig_count(listed: tuple[GpuInfo, ...]) -> int | None:
    """What SLURM's AutoDetect=nvml counts with MIG on: each MIG device, and each whole GPU
    without MIG; None when a MIG-enabled GPU's devices were not read."""
    if any(g.mig_enabled and not g.mig_devices for g in listed):
        return None
    return sum(len(g.mig_devices) if g.mig_enabled else 1 for g in listed)


def _judge(
    node: SlurmNodeGres,
    gres: NodeGpuGres,
    given: int,
    report: Report,
    listed: tuple[GpuInfo, ...],
    kb: KnowledgeBase,
) -> Hit | None:
    whole = len(listed)
    said = f"SLURM gives out {gres.shown} on {node.name}"
    mig = [g for g in listed if g.mig_enabled]
    mig_count = _mig_count(listed) if mig else None
    nvml = f"NVML lists {plural(whole, 'GPU')}"
    if mig:
        devices = "MIG devices not read" if mig_count is None else f"{mig_count} MIG devices"
        nvml += f" ({plural(len(mig), 'GPU')} with MIG on: {devices} and whole GPUs)"
    # NVML's count is the node's, or a container's share: then the GPUs the driver owns (the
    # PCI bus and /proc/driver/nvidia/gpus, which no container hides) are compared, as the
    # fleet compares them, and the GPUs NVML was not shown are not lost
    sees = nvml_sees_the_node(report)
    owned = node_gpu_count(report)
    if not sees and whole < owned:
        mig_count = None  # SLURM's count is known only where NVML listed every GPU
    missing = missing_from_nvml(report) if sees else []
    # set aside by the admin (NVreg_ExcludedGpus): not lost, and no job can be given them
    excluded = [a for a in missing if pci_address(a) in set(excluded_gpus(report))]
    counts = GpuCounts(
        owned=owned, nvml=whole if sees else None, mig_devices=mig_count, excluded=len(excluded)
    )
    judged = judge_gres(given, counts)
    if judged is None:
        return None
    evidence = [f"{said}; {nvml}" + (f" (missing: PCI {', '.join(missing)})" if missing else "")]
    if judged in ("missing", "lost"):
        if excluded:
            evidence.append(excluded_evidence(report, excluded))
        refused = sorted(a for a in missing if pci_address(a) in refused_gpus(report, kb))
        if refused:
            evidence.append(
                f"PCI {', '.join(refused)}: the installed driver cannot drive "
                f"{'them' if refused[1:] else 'it'} (GD-DRV-007, -008 or -009 names the "
                "driver to install)"
            )
        evidence += _xid79(report) + _init_failed(report, missing)
        title = short_title(
            gres.shown,
            owned=owned,
            on_bus=sum(1 for fn in report.driver.pci_functions if is_gpu_function(fn)),
            nvml=counts.nvml,
            mig_devices=mig_count,
            lost=missing,
            # GD-DRV-007/008/009's: never started, but the node cannot give them out either
            refused=refused,
            excluded=excluded,
        )
        set_aside = (
            (
                f"GPU{'s' if excluded[1:] else ''} {', '.join(excluded)} excluded on purpose? "
                "Give the node's Gres in slurm.conf and gres.conf only the GPUs in use, then "
                "`scontrol reconfigure`; else remove the UUID from NVreg_ExcludedGpus "
                "(/etc/modprobe.d) and reload the driver.",
            )
            if excluded
            else ()
        )
        return Hit(
            title=title,
            evidence=tuple(evidence),
            fix=(
                f"$ {drain_command(node.name, GRES_COUNT_ID, title)}",
                *set_aside,
                "$ sudo dmesg -T | grep -iE 'Xid|fallen off the bus'",
                "$ sudo nvidia-smi -q | grep -i 'bus id'   # which GPU is gone",
                "Reboot (or reset the GPU); if it does not come back, reseat it or arrange an "
                "RMA, then resume the node.",
            ),
        )
    if judged == "extra":
        return Hit(
            severity=Severity.WARNING,
            title=surplus_title(gres.shown, counts.usable),
            evidence=tuple(evidence),
            fix=(
                "Set the node's Gres in slurm.conf to the GPUs it has "
                f"(gpu:{counts.usable}, with its type if you use one) and gres.conf to match, "
                "then `scontrol reconfigure`.",
            ),
        )
    return Hit(
        severity=Severity.INFO,
        title=f"SLURM's GPU count for {node.name} was not compared: MIG is on",
        evidence=(
            *evidence,
            f"neither the {whole} whole GPUs nor the MIG devices match the {given} of the GRES",
        ),
        fix=(
            "Compare `nvidia-smi -L` with the node's Gres by hand: with AutoDetect=nvml SLURM "
            "counts each MIG device as one gpu.",
        ),
    )


def _without_nvml(report: Report, node: SlurmNodeGres, gres: NodeGpuGres, given: int) -> Hit | None:
    """NVML failed: the GPUs the driver owns (the PCI bus, /proc/driver/nvidia/gpus; no device
    cgroup hides them) against the GRES, where the bus could be read."""
    host = report.host
    if host.os != "linux" or host.wsl or pci_bus_unreadable(report):
        return None
    owned = node_gpu_count(report)
    judged = judge_gres(given, GpuCounts(owned=owned))
    if judged is None:
        return None  # the driver has them; NVML's failure is its own finding's
    on_bus = sum(1 for fn in report.driver.pci_functions if is_gpu_function(fn))
    if judged == "extra":
        return Hit(
            severity=Severity.WARNING,
            title=surplus_title(gres.shown, owned),
            evidence=(
                f"SLURM gives out {gres.shown} on {node.name}; PCI bus: "
                f"{plural(on_bus, 'NVIDIA GPU')}, {owned} owned by the nvidia driver",
                f"NVML: {report.nvml.status}",
            ),
            fix=(
                f"Set the node's Gres in slurm.conf to the GPUs it has (gpu:{owned}, with its "
                "type if you use one) and gres.conf to match, then `scontrol reconfigure`.",
            ),
        )
    title = short_title(gres.shown, owned=owned, on_bus=on_bus)
    bus = (
        "no NVIDIA GPU on the PCI bus"
        if on_bus == 0
        else f"PCI bus: {plural(on_bus, 'NVIDIA GPU')}, {owned} owned by the nvidia driver"
    )
    return Hit(
        title=title,
        evidence=(
            f"SLURM gives out {gres.shown} on {node.name}; {bus}",
            f"NVML: {report.nvml.status}",
            *_xid79(report),
        ),
        fix=(
            f"$ {drain_command(node.name, GRES_COUNT_ID, title)}",
            "$ lspci -nn | grep -i nvidia; lsmod | grep nvidia   # the GPUs and the driver",
            "Load or reinstall the driver, reseat or RMA a GPU that is gone, or correct the "
            "node's Gres in slurm.conf and gres.conf; then resume the node.",
        ),
    )


@rule(
    "GD-GPU-068",
    area="gpu",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING, Severity.INFO),
    title="Fewer GPUs than SLURM gives out on this node",
    why="SLURM hands out the GPUs the node's GRES names (`Gres=gpu:h100:8`); it compares them with "
    "the node's devices only when slurmd registers. When a GPU has fallen off the bus (Xid 79) "
    "or dropped out of NVML later, the node still takes `--gres=gpu:8` jobs, and they fail to "
    "start or die. A GPU the driver lists and NVML does not is an error whatever the GRES gives "
    "out: gres.conf names its /dev/nvidiaN with the others, so a job can be given it; one the "
    "installed driver cannot drive (GD-DRV-007, -008, -009) is named refused by the driver, not "
    "lost, and the node is drained all the same. More GPUs than the GRES is a warning: SLURM "
    "cannot hand out the extra ones. With MIG on, SLURM may count whole GPUs or "
    "(AutoDetect=nvml) MIG devices: either count is accepted, and a node that matches neither is "
    "said not to be compared (information). Where NVML fails, the GPUs the driver owns (the PCI "
    "bus, /proc/driver/nvidia/gpus) are compared instead: a node with no GPU or no driver left "
    "is an error too. So are they in a container NVML lists a share of the GPUs in (Apptainer's "
    "`--nv` aside), whose other GPUs are not lost, and where a cgroup v2 device filter may "
    "hide some (GD-GPU-070 names them). Inside a job NVML lists only the job's GPUs, "
    "so check does not compare there; `fleet run` does, for every node: the GRES sinfo listed "
    "against the GPUs on the node's PCI bus and in the driver's list, which a job's device "
    "cgroup cannot hide, and against NVML's count where NVML lists some of those GPUs but not "
    "all (a cgroup hides every GPU not given, or none).",
    fix="Drain the node, read the kernel log for Xid 79, reboot or reset the GPU, and reseat "
    "or RMA a GPU that does not come back; then resume the node.",
    sources=(
        "https://slurm.schedmd.com/gres.html (a node found with fewer GRES than configured is "
        "drained when slurmd registers, not later; AutoDetect=nvml counts MIG devices)",
        "https://docs.nvidia.com/deploy/xid-errors/index.html (Xid 79: fallen off the bus)",
        "Azure/azurehpc-health-checks README (check_gpu_count: 8 GPUs expected on ND H100 v5)",
        "NVIDIA/gpud (GPU count against the expected count)",
    ),
)
def gres_count(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    site = report.site
    if site is None or site.slurm_node is None:
        return  # not asked
    gres = node_gpu_gres(site.slurm_node.gres)
    if gres is None or gres.count is None:
        return  # the node gives out no GPU, or names none by count
    if report.nvml.status != "ok":
        # NVML's own finding says why it failed; where the driver owns fewer GPUs than the
        # GRES (none on the bus, no driver), that alone is no error of NVML's: say it here
        hit = _without_nvml(report, site.slurm_node, gres, gres.count)
        if hit is not None:
            yield hit
        return
    if site.slurm_job is not None:
        # A job's device cgroup hides the GPUs it was not given: NVML's count is the job's.
        yield Hit(
            severity=Severity.INFO,
            title=f"SLURM's GPU count for {site.slurm_node.name} was not compared: inside a job",
            evidence=(
                f"SLURM gives out {gres.shown}; inside job {site.slurm_job.job_id} NVML lists "
                "only the job's GPUs",
            ),
            fix=("Run the health check outside a job (HealthCheckProgram).",),
        )
        return
    hit = _judge(site.slurm_node, gres, gres.count, report, gpus(report), kb)
    if hit is not None:
        yield hit


def _gres_compared(report: Report) -> bool:
    """True where GD-GPU-068 compares this node and names the GPUs NVML lost: SLURM gives out
    a count of GPUs on it other than 0 (judge_gres calls GPUs lost only where the GRES gives
    some out; ``gpu:0`` is its warning, more GPUs than given out, as in the fleet), and the
    check runs in no job (inside one GD-GPU-068 says only that it did not compare)."""
    site = report.site
    node = site.slurm_node if site is not None and site.slurm_job is None else None
    gres = node_gpu_gres(node.gres) if node is not None else None
    return gres is not None and gres.count is not None and gres.count > 0


def _device_filter_narrows(report: Report, *, filter_aside: bool = False) -> bool:
    """True where NVML may have been shown only some GPUs on purpose: a container that is not
    Apptainer's ``--nv`` (NVIDIA's runtime and Kubernetes give a share), NVIDIA's runtime told
    to (``NVIDIA_VISIBLE_DEVICES`` other than ``all``, Apptainer's ``--nvccli`` honours it), a
    job given GPUs, a cgroup v1 device list that names single NVIDIA minors, or a cgroup v2
    device filter (model.derived.device_filter; left aside with ``filter_aside``)."""
    if not nvml_sees_the_node(report, filter_aside=filter_aside):
        return True
    visible = (env(report, "NVIDIA_VISIBLE_DEVICES") or "all").strip().lower()
    if report.host.container is not None and visible not in ("all", ""):
        return True
    access = report.device_access
    rules = access.devices_list if access is not None else ()
    return bool(rules) and not any(r.startswith("a ") or " 195:* " in r for r in rules)


def _init_failed(report: Report, addresses: list[str]) -> list[str]:
    """The kernel log's ``RmInitAdapter failed`` lines for the GPUs at ``addresses``."""
    log = report.hardware.kernel_log if report.hardware is not None else None
    if log is None or log.status != "ok":
        return []
    return [
        f"kernel log: the driver failed to start the GPU at PCI {f.pci} ({plural(f.count, 'line')}"
        + (f", last {f.last}" if f.last else "")
        + f"): {f.last_message}"
        for f in log.init_failures or ()
        if any(same_device(f.pci, a) for a in addresses)
    ]


def _loss_evidence(report: Report, missing: list[str]) -> list[str]:
    """The kernel log's Xid 79 and ``RmInitAdapter failed`` lines for the GPUs at
    ``missing``: what says they are lost, not hidden (empty where the log holds none or was
    not read)."""
    log = report.hardware.kernel_log if report.hardware is not None else None
    if log is None or log.status != "ok":
        return []
    found = [
        f"kernel log: Xid 79 (GPU has fallen off the bus) on PCI {c.pci} "
        f"({plural(c.count, 'time')}"
        + (
            ", before this boot: the reboot since did not bring it back)"
            if before_boot(report, c)
            else ")"
        )
        for c in log.counts
        if c.kind == "xid"
        and c.code == XID_OFF_THE_BUS
        and any(same_device(c.pci, a) for a in missing)
    ]
    return found + _init_failed(report, missing)


def _log_evidence(report: Report, missing: list[str]) -> list[str]:
    """The kernel log's Xid 79 and ``RmInitAdapter failed`` lines for the missing GPUs, or
    what the log could not say."""
    log = report.hardware.kernel_log if report.hardware is not None else None
    if log is None:
        return []
    if log.status != "ok":
        return [
            "kernel log: not read here, so its Xid 79 and RmInitAdapter lines were not looked for"
        ]
    found = _loss_evidence(report, missing)
    if found:
        return found
    window = f"the last {log.window_h:g} h" if log.window_h else "the look-back window"
    them = "them" if missing[1:] else "it"
    if log.init_failures is None:  # a report from before the lines were read
        return [
            f"kernel log: no Xid 79 for {them} in {window}; a GPU that failed to start at "
            "boot logs `RmInitAdapter failed` instead, which this report does not hold"
        ]
    # older drivers name no address ('rm_init_adapter failed for device bearing minor
    # number 0'): such a line may be the missing GPU's, so it is not said absent
    unnamed = [
        f"kernel log: no Xid 79 for {them} in {window}; the driver failed to start a GPU it "
        f"names by no PCI address ({plural(f.count, 'line')}"
        + (f", last {f.last}" if f.last else "")
        + f"): {f.last_message}"
        for f in log.init_failures
        if not f.pci
    ]
    return unnamed or [f"kernel log: no Xid 79 or `RmInitAdapter failed` for {them} in {window}"]


@rule(
    "GD-GPU-070",
    area="gpu",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.INFO),
    title="A GPU the nvidia driver owns is missing from NVML",
    why="A GPU can be on the PCI bus, bound to the nvidia driver and in "
    "/proc/driver/nvidia/gpus, yet missing from NVML, so `nvidia-smi` lists 7 GPUs of 8: it "
    "fell off the bus (Xid 79) and came back without the driver taking it again, or it "
    "failed to start at boot (`RmInitAdapter failed` in the kernel log: the finding quotes "
    "the lines for its address, as it does Xid 79's). No framework can "
    "use it, and a run that asks for every GPU fails. gpudoctor compares the PCI addresses "
    "NVML lists with those GPUs, counting only display functions bound to nvidia: a GPU set "
    "aside for a virtual machine (vfio-pci, pci-stub) or with no driver is GD-DRV-004's, an "
    "SR-IOV virtual function on a listed GPU's bus, the GPU's audio or USB functions and "
    "NVSwitches are not GPUs of their own. It does not compare where NVML may have been "
    "shown a share on purpose: in a container (Apptainer's `--nv` aside), with "
    "`NVIDIA_VISIBLE_DEVICES` naming GPUs, in a SLURM job given GPUs, where NVML lists no "
    "GPU at all (GD-NVML-009 says so; a device filter may hide every one), or under a "
    "cgroup v1 device list naming single GPUs. A cgroup v2 device filter is an eBPF program "
    "nothing lists: where one may hide GPUs (this process in a SLURM job's cgroup whose "
    "environment names no job, as a login pam_slurm_adopt put into it; a systemd unit with "
    "`DevicePolicy=closed` or `strict` or `DeviceAllow=` entries, or whose policy systemctl "
    "did not give) the GPUs NVML does not list are said to be maybe hidden (information), "
    "and lost (an error) only where the kernel log has their Xid 79 or `RmInitAdapter "
    "failed`. A GPU NVML lists as lost is GD-GPU-001's; one "
    "the installed driver cannot drive (its kernel-module flavour or branch) is GD-DRV-007, "
    "-008 or -009's; where NVML fails, its own finding speaks; on a SLURM node whose GRES "
    "gives out GPUs, GD-GPU-068 does (not inside a job, where it does not compare; a GRES of "
    "`gpu:0` hands out no lost GPU, so it is said here, beside GD-GPU-068's warning). A GPU "
    "the admin excluded on purpose with the "
    "driver's `NVreg_ExcludedGpus` parameter is missing from NVML too: where NVML names it "
    "(nvmlGetExcludedDeviceInfoByIndex, drivers from R450) it is information, not an error "
    "(also on a SLURM node, and behind a device filter where every GPU is excluded); "
    "the UUIDs /proc/driver/nvidia/params excludes are evidence "
    "beside an error where NVML could not place them.",
    fix="Read the kernel log for the GPU's address (Xid 79, `RmInitAdapter failed`); on a "
    "shared server drain it from the scheduler first; reboot (or power-cycle) to bring the "
    "GPU back; if it recurs, reseat it and check its power cables, or arrange an RMA. A GPU "
    "excluded on purpose needs nothing; to use it, remove its UUID from "
    "`NVreg_ExcludedGpus` (/etc/modprobe.d) and reload the driver.",
    sources=(
        "https://docs.nvidia.com/deploy/xid-errors/index.html (Xid 79: fallen off the bus)",
        "NVIDIA/gpu-operator#1146 (one GPU of a node: `NVRM: GPU 0000:0a:00.0: RmInitAdapter "
        "failed!`, `rm_init_adapter failed, device minor number 5`)",
        "NixOS/nixpkgs#73804 (nvidia-smi reports 3 of 4 GPUs the machine has)",
        "https://docs.nvidia.com/deploy/nvml-api/group__nvmlExcludedGpuQueries.html (GPUs "
        "excluded from the driver are counted apart: nvmlGetExcludedDeviceCount)",
        "NVIDIA/open-gpu-kernel-modules kernel-open/nvidia/os-registry.c "
        "(nv_is_uuid_in_gpu_exclusion_list: NVreg_ExcludedGpus names GPUs by UUID)",
        "NVIDIA/open-gpu-kernel-modules kernel-open/nvidia/nv-reg.h (ExcludedGpus: UUIDs "
        "with their leading GPU-, separated by commas; GpuBlacklist its deprecated name) and "
        'nv-procfs.c (/proc/driver/nvidia/params writes `ExcludedGpus: "..."`)',
    ),
)
def gpus_missing_from_nvml(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    host = report.host
    if host.os != "linux" or host.wsl or report.nvml.status != "ok":
        return
    listed = gpus(report)
    refused = refused_gpus(report, kb)  # GD-DRV-007/008/009 name them, with the driver to install
    missing = [a for a in missing_from_nvml(report) if pci_address(a) not in refused]
    excluded = [a for a in missing if pci_address(a) in set(excluded_gpus(report))]
    narrowed = _device_filter_narrows(report)
    # where NVML lists none too GD-NVML-009 is silent, so every GPU excluded is said behind a
    # device filter too: no filter can show a GPU the driver excluded
    if excluded and (not narrowed or all_excluded(report)):
        yield _excluded_hit(report, excluded)
    hiding = device_filter(report)
    if narrowed and (hiding is None or _device_filter_narrows(report, filter_aside=True)):
        return  # NVML shows a share, or a device filter may hide every GPU
    if not listed or (hiding is None and _gres_compared(report)):
        return  # NVML lists none (GD-NVML-009's), or GD-GPU-068 compares this node
    owned = node_gpu_count(report)
    lost_here = [a for a in missing if a not in excluded]
    short = owned - len(listed) - len(refused) - len(excluded)  # neither is NVML's to list
    if short <= 0 or not lost_here:
        return  # NVML counts every GPU the driver owns (a lost one is GD-GPU-001's)
    if hiding is not None and not _loss_evidence(report, lost_here):
        # a cgroup v2 device filter may hide them, and nothing says they are lost
        yield _maybe_hidden_hit(report, listed, owned, lost_here, hiding)
        return
    hit = _missing_hit(report, listed, owned, lost_here, short, refused, hiding)
    if hit is not None:
        yield hit


def _sources(report: Report, owned: int) -> list[str]:
    """Where the GPUs the driver owns were counted: the PCI bus, /proc/driver/nvidia/gpus."""
    on_bus = sum(1 for fn in report.driver.pci_functions if owned_gpu_function(fn))
    sources = []
    if on_bus:
        sources.append(f"PCI bus: {plural(on_bus, 'GPU')} bound to the nvidia driver")
    if report.site is not None and report.site.driver_gpus:
        sources.append(f"/proc/driver/nvidia/gpus lists {len(report.site.driver_gpus)}")
    return sources


def _maybe_hidden_hit(
    report: Report, listed: tuple[GpuInfo, ...], owned: int, missing: list[str], hiding: str
) -> Hit:
    """Information: GPUs the driver owns that NVML does not list, where a cgroup v2 device
    filter may hide them from this process and the kernel log says nothing of their loss."""
    names = ", ".join(missing[:2]) + (f" and {len(missing) - 2} more" if missing[2:] else "")
    many = bool(missing[1:])
    return Hit(
        severity=Severity.INFO,
        title=f"NVML lists {len(listed)} of the {owned} GPUs the nvidia driver owns: "
        f"GPU{'s' if many else ''} {names} may be hidden from this process by a device filter",
        evidence=(
            "; ".join(_sources(report, owned)),
            f"NVML lists {plural(len(listed), 'GPU')} (missing: PCI {', '.join(missing)})",
            hiding,
            *_log_evidence(report, missing),
        ),
        fix=(
            "Nothing, if this process was given only some GPUs on purpose.",
            "To tell a hidden GPU from a lost one, list the GPUs outside the job or unit (a "
            "login shell on the node, not one pam_slurm_adopt puts into a job):",
            "$ nvidia-smi -L",
            f"If {'they are' if many else 'it is'} missing there too, "
            f"{'they are' if many else 'it is'} lost; the kernel log says why:",
            f"$ sudo dmesg -T | grep -iE '{_bus(pci_address(missing[0]))}Xid|RmInitAdapter'",
        ),
    )


def _not_excluded(report: Report) -> tuple[list[str], bool]:
    """What the report says of NVreg_ExcludedGpus beside GPUs NVML lost, and whether the fix
    must still send the reader to the parameter (the report could not say)."""
    param, by_nvml = report.driver.excluded_gpus, report.nvml.excluded_gpus
    placed = {g.uuid for g in by_nvml or () if g.uuid}
    unplaced = [u for u in param or () if u not in placed]
    if unplaced and by_nvml is None:
        return [
            f'/proc/driver/nvidia/params: ExcludedGpus "{",".join(unplaced)}"; NVML cannot '
            "say which GPU that is here (nvmlGetExcludedDeviceInfoByIndex): one missing may "
            "be excluded on purpose"
        ], False
    if param is not None and not unplaced:
        return ["/proc/driver/nvidia/params: NVreg_ExcludedGpus excludes none of them"], False
    if by_nvml is not None and not unplaced:
        return ["NVML: the driver excluded none of them (nvmlGetExcludedDeviceCount)"], False
    return [], True


def excluded_evidence(report: Report, excluded: list[str]) -> str:
    """How the GPUs at ``excluded`` are known to be excluded: NVML's list, the parameter."""
    wanted = set(map(pci_address, excluded))
    named = [
        f"PCI {g.pci_bus_id}" + (f" ({g.uuid})" if g.uuid else "")
        for g in report.nvml.excluded_gpus or ()
        if g.pci_bus_id and pci_address(g.pci_bus_id) in wanted
    ]
    said = f"NVML: excluded by the driver: {', '.join(named)}"
    param = report.driver.excluded_gpus
    if param:
        said += f'; /proc/driver/nvidia/params: ExcludedGpus "{",".join(param)}"'
    return said


def _excluded_hit(report: Report, excluded: list[str]) -> Hit:
    """Information: the admin excluded these GPUs from the driver, NVML does not list them."""
    many = bool(excluded[1:])
    return Hit(
        severity=Severity.INFO,
        title=f"GPU{'s' if many else ''} {', '.join(excluded)} "
        f"{'are' if many else 'is'} excluded from the driver by NVreg_ExcludedGpus: not used "
        "here, on purpose?",
        evidence=(excluded_evidence(report, excluded),),
        fix=(
            "Nothing, if it was set aside on purpose (a GPU kept out of service).",
            "To use it again, remove its UUID from NVreg_ExcludedGpus and reload the driver "
            "(or reboot):",
            "$ grep -rs ExcludedGpus /etc/modprobe.d/ /lib/modprobe.d/ /proc/cmdline",
        ),
    )


def _missing_hit(
    report: Report,
    listed: tuple[GpuInfo, ...],
    owned: int,
    missing: list[str],
    short: int,
    refused: set[str],
    hiding: str | None = None,
) -> Hit | None:
    unnamed_lost = sum(1 for g in listed if g.lost and not g.pci_bus_id)
    if len(missing) <= unnamed_lost:
        return None  # NVML counts them, as lost: GD-GPU-001 names them
    names = ", ".join(missing[:2]) + (f" and {len(missing) - 2} more" if missing[2:] else "")
    gone = (
        f"GPU{'s' if missing[1:] else ''} {names} missing"
        if len(missing) <= short
        else f"{short} of PCI {names} missing"  # the others are NVML's lost ones, unnamed
    )
    sources = _sources(report, owned)
    lost = f", {unnamed_lost} of them lost (GD-GPU-001)" if unnamed_lost else ""
    if refused:
        sources.append(
            f"PCI {', '.join(sorted(refused))}: the installed driver cannot drive "
            f"{'them' if len(refused) > 1 else 'it'} (GD-DRV-007, -008 or -009)"
        )
    first = pci_address(missing[0])
    site = report.site
    slurm = site is not None and (site.slurm_commands or site.slurm_job or site.slurm_node)
    title = f"NVML lists {len(listed)} of the {owned} GPUs the nvidia driver owns: {gone}"
    drain = (
        # the gate's own reason: the gate resumes the node once NVML lists every GPU again
        f"$ {drain_command(node_to_drain(report), MISSING_ID, title)}   # first, on a SLURM node"
        if slurm
        else "On a shared server, stop the scheduler sending it jobs first (drain it in SLURM, "
        "`kubectl cordon` it in Kubernetes)."
    )
    exclusion, look = _not_excluded(report)
    grep = (
        (
            "$ grep ExcludedGpus /proc/driver/nvidia/params   # empty, unless it was excluded "
            "on purpose",
        )
        if look
        else ()
    )
    return Hit(
        title=title,
        evidence=(
            "; ".join(sources),
            f"NVML lists {plural(len(listed), 'GPU')}{lost} (missing: PCI {', '.join(missing)})",
            *exclusion,
            # a device filter may hide GPUs, but the kernel log says these were lost
            *(
                (f"{hiding}; the kernel log says {'they were' if missing[1:] else 'it was'} lost",)
                if hiding
                else ()
            ),
            *_log_evidence(report, missing),
        ),
        fix=(
            f"$ sudo dmesg -T | grep -iE '{_bus(first)}Xid|RmInitAdapter'   # why the driver "
            "gave it up",
            *grep,
            drain,
            "Reboot (or power-cycle) to bring the GPU back; if it falls off again, reseat it and "
            "check its power cables, or arrange an RMA.",
        ),
    )


def _bus(address: str) -> str:
    """``0000:3b:00|``, what the kernel log's lines of a GPU share, for a grep -E alternation;
    nothing where ``address`` is no PCI address (a report's odd text stays out of the quotes)."""
    return f"{address[:10]}|" if shell.PCI_ADDRESS.fullmatch(address) else ""
