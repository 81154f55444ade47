"""Kernel-module rules: the open/proprietary flavour a GPU needs, dropped GPUs, Fabric Manager."""

from __future__ import annotations

import re
from collections.abc import Iterator

from gpudoctor.model.derived import (
    is_gpu_function,
    loaded_module_flavour,
    pci_address,
    set_aside_for_vm,
)
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkInfo, PciFunction, Report
from gpudoctor.rules.distro import RPMFUSION_LEGACY, install_legacy_branch, switch_module_flavour
from gpudoctor.rules.facts import ask, driver_version, gpus, is_linux_host, make_env_command
from gpudoctor.rules.framework_build import label
from gpudoctor.rules.registry import FRAMEWORK_NAMES, Hit, KnowledgeBase, PciRangeLike, rule

SYSTEM_NOT_READY = "CUDA_ERROR_SYSTEM_NOT_READY"
"""cuInit's error 802 ("system not yet initialized"): NVSwitch fabric not set up yet."""


LEGACY_GPUS = "https://www.nvidia.com/en-us/drivers/unix/legacy-gpu/"


def last_branch_line(fn: PciFunction, row: PciRangeLike) -> str:
    """The evidence line of a GPU a branch dropped: its generation and last branch, or, where
    the device ID does not tell the generation (Kepler, Fermi and Tesla share IDs), each
    generation's last branch rather than the newest of them."""
    head = f"PCI {fn.address} (device {fn.device_id}): {row.generation}"
    if not row.per_generation:
        return f"{head}; the last driver branch for it is R{row.last_branch}"
    each = ", ".join(f"R{branch} for {name}" for name, branch in row.per_generation)
    return f"{head}; the device ID does not tell which, and the last driver branch is {each}"


def install_last_branch(
    report: Report,
    rows: list[PciRangeLike],
    *,
    replacing: bool = True,
    installed: str | None = None,
) -> tuple[str, ...]:
    """Install the oldest of the GPUs' last branches (a branch drives no GPU newer than its
    last); where that GPU's device ID does not tell its generation, the branch of each."""
    last = min(row.last_branch or 0 for row in rows)
    unsure = next((row for row in rows if row.per_generation and row.last_branch == last), None)
    if unsure is None:
        return install_legacy_branch(report, last, replacing=replacing, installed=installed)
    (newest, branch), *older = unsure.per_generation
    return (
        f"The device ID does not tell {newest} from "
        + " or ".join(name for name, _ in older)
        + f"; the GPU's name does (`lspci -nn -d 10de:`, against {LEGACY_GPUS}).",
        f"If it is {newest}:",
        *install_legacy_branch(report, branch, replacing=replacing, installed=installed),
        "If "
        + "; if ".join(f"{name}, the R{b} legacy branch" for name, b in older)
        + f" ({LEGACY_GPUS}): no newer branch drives it.",
    )


def legacy_series(report: Report, kb: KnowledgeBase, branch: str) -> bool | None:
    """Whether driver branch ``branch`` here is one of RPM Fusion's legacy series (580xx,
    470xx) rather than its current driver: True where a GPU on the PCI bus has that branch as
    its last (the current packages, past it, do not drive that GPU), None where the branch is
    a legacy series' but no GPU tells (its current driver was once that branch too), False
    for any other branch. The report records no package names, so this is what it can tell."""
    if not branch.isdigit() or int(branch) not in RPMFUSION_LEGACY:
        return False
    for fn in report.driver.pci_functions:
        row = ask(kb.pci_range, fn.device_id) if is_gpu_function(fn) else None
        if row is not None and row.last_branch == int(branch):
            return True
    return None


def last_branch_title(rows: list[PciRangeLike]) -> str:
    """``R580``, or ``R470 or older`` where the oldest GPU's generation is not known."""
    last = min(row.last_branch or 0 for row in rows)
    unsure = any(row.per_generation and row.last_branch == last for row in rows)
    return f"R{last} or older" if unsure else f"R{last}"


def _driven_gpus(report: Report) -> list[PciFunction]:
    """GPU functions meant for this host's nvidia driver that it did not bring up: not set
    aside for a VM, not nouveau's, and not listed by NVML (a GPU NVML lists is driven, whatever
    the data says about its generation)."""
    listed = {pci_address(g.pci_bus_id) for g in gpus(report) if g.pci_bus_id}
    return [
        fn
        for fn in report.driver.pci_functions
        if is_gpu_function(fn)
        and not set_aside_for_vm(fn.driver)
        and fn.driver != "nouveau"
        and pci_address(fn.address) not in listed
    ]


def _nvml_sees(report: Report) -> str:
    listed = gpus(report)
    if report.nvml.status != "ok":
        return f"NVML: {report.nvml.status}"
    return f"NVML lists {len(listed)} GPU{'s' if len(listed) != 1 else ''}"


_LIBCUDA_VERSION = re.compile(r"libcuda\.so\.(\d{3,4}(?:\.\d{1,3}){1,2})$")


def installed_driver(report: Report) -> str | None:
    """The driver version: the running one (NVML, the module), else the installed module's
    (``modinfo``: a driver that took no GPU does not load), else libcuda's file name."""
    found = driver_version(report) or report.driver.installed_module_version
    if found:
        return found
    match = _LIBCUDA_VERSION.search(report.cuda.libcuda_path or "")
    return match.group(1) if match else None


def _branch(report: Report) -> str | None:
    version = installed_driver(report)
    return version.split(".")[0] if version else None


def _line(report: Report) -> str:
    drv = report.driver
    if drv.proc_version_line:
        return f"/proc/driver/nvidia/version: {drv.proc_version_line}"
    installed = f" {drv.installed_module_version}" if drv.installed_module_version else ""
    return f"the nvidia module{installed} is installed but not loaded (modinfo nvidia)"


def _mismatched(report: Report, kb: KnowledgeBase, needs: str) -> list[tuple[PciFunction, str]]:
    found = []
    for fn in _driven_gpus(report):
        row: PciRangeLike | None = ask(kb.pci_range, fn.device_id)
        if row is not None and row.kernel_module == needs:
            found.append((fn, row.generation))
    return found


@rule(
    "GD-DRV-007",
    area="driver",
    severity=Severity.ERROR,
    title="The GPU needs NVIDIA's open kernel modules, but the proprietary one is installed",
    why="Blackwell GPUs (GeForce RTX 50, RTX PRO Blackwell, B200, GB200, GB10, B300) are "
    "driven only by NVIDIA's open GPU kernel modules, and NVIDIA supports only the open "
    "modules on Grace Hopper (GH200). With the proprietary `nvidia.ko` the "
    "module loads, but the GPU never initialises: `nvidia-smi` says *No devices were found*, "
    "CUDA sees no device, and the kernel log says `NVRM: ... requires use of the NVIDIA open "
    "kernel modules` (`RmInitAdapter failed`). gpudoctor reads the loaded flavour from "
    "`/proc/driver/nvidia/version` (`Open Kernel Module` or not) and which GPUs need the open "
    "modules from their PCI device IDs (knowledge base `driver_branches.toml`, from NVIDIA's "
    "README and its open-module GPU list). A GPU that NVML lists is driven, and never "
    "reported. For a Blackwell GPU the finding also names a framework build whose arch list "
    "runs on no Blackwell GPU (neither 10.x nor 12.x code, no PTX): it would stop with `no "
    "kernel image` once the driver takes the GPU.",
    fix="Install the open flavour of the same driver branch (Ubuntu `nvidia-driver-BRANCH-"
    "open`, Debian `nvidia-open-kernel-dkms`, RPM Fusion's `%_with_kmod_nvidia_open` macro, "
    "on RHEL 8/9 `sudo dnf module switch-to nvidia-driver:BRANCH-open --allowerasing`, on RHEL "
    "10 `sudo dnf install --allowerasing nvidia-open`, or the `.run` installer with "
    "`-m=kernel-open`) and reboot.",
    sources=(
        "https://download.nvidia.com/XFree86/Linux-aarch64/580.159.03/README/kernel_open.html",
        "NVIDIA/open-gpu-kernel-modules README.md (Compatible GPUs)",
        "https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/advanced-options.html "
        "(Switching between Driver Module Flavors: RHEL 8/9 and RHEL 10)",
        "https://developer.nvidia.com/blog/nvidia-transitions-fully-towards-open-source-gpu-"
        "kernel-modules/ (Grace Hopper and Blackwell: open modules only)",
        "gpudoctor/kb/data/driver_branches.toml (knowledge base)",
    ),
)
def open_module_required(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if not is_linux_host(report) or loaded_module_flavour(report) != "proprietary":
        return
    found = _mismatched(report, kb, "open")
    if not found:
        return
    evidence = [
        f"PCI {fn.address} (device {fn.device_id}): {generation}, needs the open kernel modules"
        for fn, generation in found
    ]
    evidence += [_line(report) + ": the proprietary module", _nvml_sees(report)]
    blackwell = any(generation.startswith("Blackwell") for _, generation in found)
    stale = _without_blackwell_code(report, kb) if blackwell else []
    evidence += [
        f"{label(fw)} has no Blackwell code either (arch list {' '.join(fw.arch_list)}): once "
        "the driver takes the GPU it stops with `no kernel image is available`"
        for fw in stale
    ]
    then = [
        f"Then a {FRAMEWORK_NAMES[fw.name]} build for CUDA 12.8 or newer, which has Blackwell "
        f"code: $ {make_env_command(report, fw.name)}"
        for fw in stale
    ]
    yield Hit(
        evidence=tuple(evidence),
        fix=(
            *switch_module_flavour(report, "open", _branch(report) or ""),
            "$ sudo journalctl -k -b | grep -i 'open kernel modules'   # the kernel's own words",
            *then,
        ),
    )


def _without_blackwell_code(report: Report, kb: KnowledgeBase) -> list[FrameworkInfo]:
    """The GPU builds whose arch list runs on no Blackwell GPU, neither a 10.x (B200, B300) nor
    a 12.x one (GeForce RTX 50, RTX PRO): NVML lists no GPU yet, so its exact compute
    capability is unknown, and only a build that fits neither is named."""
    return [
        fw
        for fw in report.frameworks
        if fw.name in FRAMEWORK_NAMES  # a report may list one this gpudoctor does not know
        and fw.status == "ok"
        and fw.cuda_build
        and fw.arch_list
        and all(
            (cov := ask(kb.arch_coverage, cc, fw.arch_list)) is not None and cov.kind == "none"
            for cc in ("10.0", "12.0")
        )
    ]


@rule(
    "GD-DRV-008",
    area="driver",
    severity=Severity.ERROR,
    title="The GPU is too old for NVIDIA's open kernel modules, which are installed",
    why="NVIDIA's open GPU kernel modules drive only GPUs with a GSP (Turing and newer). On a "
    "Maxwell, Pascal or Volta GPU (GTX 10, GT 1030, Titan V, V100) or older they refuse it: "
    "`NVRM: ... is not supported by open nvidia.ko because it does not include the required "
    "GPU System Processor (GSP)`, and NVML finds no GPU. Distributions switched their default "
    "to the open flavour from driver 560 on, which is how older GPUs meet it. Detected from "
    "the loaded flavour and the GPU's PCI device ID.",
    fix="Install the proprietary kernel module of the driver (Ubuntu `nvidia-driver-BRANCH` "
    "without `-open`, Debian `nvidia-kernel-dkms`, RPM Fusion without the open macro, on RHEL "
    "8/9 `sudo dnf module switch-to nvidia-driver:BRANCH-dkms --allowerasing`, on RHEL 10 "
    "`sudo dnf install --allowerasing cuda-drivers`, the `.run` installer with `-m=kernel`) "
    "and reboot; a branch newer than R580 drives none of these GPUs at all (GD-DRV-009), so "
    "there the fix is R580's proprietary module, which GD-DRV-009 installs, not the newer "
    "branch's.",
    sources=(
        "negativo17/nvidia-driver#158 (GT 1030 on the 560 open modules)",
        "NVIDIA/open-gpu-kernel-modules README.md (Turing or later)",
        "https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/advanced-options.html "
        "(Switching between Driver Module Flavors: RHEL 8/9 and RHEL 10)",
        "gpudoctor/kb/data/driver_branches.toml (knowledge base)",
    ),
)
def proprietary_module_required(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if not is_linux_host(report) or loaded_module_flavour(report) != "open":
        return
    found = _mismatched(report, kb, "proprietary")
    if not found:
        return
    branch = _branch(report) or ""
    rows = [
        row
        for fn, _ in found
        if (row := ask(kb.pci_range, fn.device_id)) is not None and row.last_branch is not None
    ]
    oldest = min((row.last_branch or 0 for row in rows), default=None)
    evidence = [
        f"PCI {fn.address} (device {fn.device_id}): {generation}, has no GSP for the open modules"
        for fn, generation in found
    ]
    evidence += [_line(report) + ": the open modules", _nvml_sees(report)]
    words = "$ sudo journalctl -k -b | grep -i 'open nvidia.ko'   # the kernel's own words"
    if oldest is not None and branch.isdigit() and int(branch) > oldest:
        # GD-DRV-009 fires too: this branch's proprietary module does not drive the GPU either
        # (switching flavour within it, or its .run with -m=kernel, would not help), and
        # GD-DRV-009's fix installs the last branch that does; repeating it here said it twice.
        # Where the device ID does not tell the generation, GD-DRV-009 names each one's branch.
        last = (
            f"R{oldest}, the GPU's last branch,"
            if not any(row.per_generation for row in rows)
            else "the GPU's last branch"
        )
        yield Hit(
            evidence=tuple(evidence),
            fix=(
                f"Install {last} with its proprietary kernel module: GD-DRV-009 gives the "
                f"command (R{branch}'s proprietary module does not drive this GPU either)",
                words,
            ),
        )
        return
    yield Hit(
        evidence=tuple(evidence),
        fix=(*switch_module_flavour(report, "proprietary", branch), words),
    )


@rule(
    "GD-DRV-009",
    area="driver",
    severity=Severity.ERROR,
    title="The installed driver branch no longer supports this GPU",
    why="Driver branches drop old architectures: R340 was the last for Tesla-generation GPUs, "
    "R390 for Fermi, R470 for Kepler (GTX 600/700, K80), R580 for Maxwell, Pascal and Volta "
    "(GTX 900/10, GT 1030, Titan V, V100). A newer driver does not take the GPU (`NVRM: The "
    "NVIDIA GPU ... is not supported by the 590.xx NVIDIA Linux driver release`); with no "
    "other GPU its module does not load at all, and NVML and CUDA see no device. gpudoctor "
    "compares the driver's branch (the loaded module's, else the installed one's from "
    "`modinfo`, else libcuda's file name) with the last branch of each GPU on the PCI bus, "
    "known by its device ID (knowledge base `driver_branches.toml`, from NVIDIA's deprecation "
    "schedule and legacy GPU list). Kepler, Fermi and Tesla GPUs share device IDs, so for an ID "
    "below 0x1340 the finding gives each generation's branch (R470, R390, R340) and says how "
    "to tell which the GPU is; GRID K340, K1 and K2, Kepler boards, stopped at R367, which no "
    "distribution release in support packages, so their fix is NVIDIA's driver archive. On "
    "RHEL 10 the fix removes the installed driver by the glob NVIDIA's guide locks a branch "
    "with, of the installed version (`sudo dnf remove '*nvidia*590.48.01*'`), not every "
    "package named `nvidia-*`, which took nvidia-container-toolkit with it.",
    fix="Install the GPU's last branch (a legacy branch that still gets fixes), e.g. "
    "`nvidia-driver-580` on Ubuntu for a Pascal GPU, and keep the package manager from "
    "upgrading past it; or replace the GPU.",
    sources=(
        "https://forums.developer.nvidia.com/t/unix-graphics-feature-deprecation-schedule/60588",
        "https://www.nvidia.com/en-us/drivers/unix/legacy-gpu/",
        "https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/kernel-modules.html "
        "(a branch: RHEL 8/9 module streams, RHEL 10 versionlock)",
        "https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/"
        "version-locking.html (DNF 4: `dnf4 versionlock \\*nvidia\\*575\\*` and the driver "
        "packages of that version it takes; read 2026-12-08)",
        "gpudoctor/kb/data/driver_branches.toml (knowledge base)",
    ),
)
def branch_dropped_gpu(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    driver = installed_driver(report)
    if not is_linux_host(report) or driver is None:
        return
    dropped: list[tuple[PciFunction, PciRangeLike]] = []
    for fn in _driven_gpus(report):
        row: PciRangeLike | None = ask(kb.driver_drops_device, driver, fn.device_id)
        if row is not None and row.last_branch is not None:
            dropped.append((fn, row))
    if not dropped:
        return
    rows = [row for _, row in dropped]
    last = min(row.last_branch or 0 for row in rows)
    evidence = [last_branch_line(fn, row) for fn, row in dropped]
    state = "loaded" if driver_version(report) else "installed (not loaded)"
    evidence += [f"{state} driver {driver} (branch R{driver.split('.')[0]})", _nvml_sees(report)]
    yield Hit(
        title=f"Driver {driver} no longer supports this GPU: its last branch is "
        + last_branch_title(rows),
        evidence=tuple(evidence),
        fix=(
            *install_last_branch(report, rows, installed=driver),
            f"Then hold it there: a driver newer than R{last} will not drive this GPU.",
        ),
    )


@rule(
    "GD-DRV-010",
    area="driver",
    severity=Severity.ERROR,
    title="NVSwitch system: Fabric Manager is not running or does not match the driver",
    why="On HGX and DGX boards the GPUs talk through NVSwitches, and CUDA cannot start until "
    "NVIDIA Fabric Manager (`nvidia-fabricmanager`) has set up the fabric: cuInit fails with "
    "error 802 `CUDA_ERROR_SYSTEM_NOT_READY` (*system not yet initialized*), and NVML's "
    "fabric state stays *not started* or *in progress*. Its version must equal the driver's "
    "exactly; after a driver update without the matching Fabric Manager it refuses to start. "
    "gpudoctor finds NVSwitches on the PCI bus (vendor 10de, class 0x0680), looks for the "
    "`nv-fabricmanager` process (or asks systemd) and reads `nv-fabricmanager --version`.",
    fix="Install the Fabric Manager of exactly the driver's version (Ubuntu's archive: "
    "`nvidia-fabricmanager-BRANCH`, unless that is a transitional package to a newer branch, "
    "as 590 is on 25.10; NVIDIA's CUDA apt repository: `nvidia-fabricmanager` from R580, "
    "`nvidia-fabricmanager-BRANCH` before; NVIDIA's RHEL 8/9 repository: the module profile "
    "`nvidia-driver:BRANCH/fm` up to R570, the stream `nvidia-driver:BRANCH-open` and the "
    "Fabric Manager package of that version for later branches; RHEL 10 has no module "
    "streams) and `sudo systemctl enable --now nvidia-fabricmanager`; in a container this runs "
    "on the host.",
    sources=(
        "https://docs.nvidia.com/datacenter/tesla/fabric-manager-user-guide/index.html",
        "https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/kernel-modules.html "
        "(releases beyond 570: RHEL 8/9 `dnf module enable nvidia-driver:580-open`, RHEL 10 "
        "`dnf versionlock`; read 2026-12-07)",
        "https://github.com/NVIDIA/gpu-driver-container/blob/78fa4ac/ubuntu22.04/install.sh "
        "(NVIDIA's CUDA repository: `nvidia-fabricmanager=${DRIVER_VERSION}-1` from R580, "
        "`nvidia-fabricmanager-${DRIVER_BRANCH}` before) and NVIDIA/gpu-driver-container#451 "
        "(`nvidia-fabricmanager-580 is a virtual package provided by nvidia-fabricmanager "
        "580.65.06-1`)",
        "https://packages.ubuntu.com/questing/nvidia-fabricmanager-580 (Ubuntu 25.10: "
        "580.159.03-0ubuntu0.25.10.1) and https://packages.ubuntu.com/questing/"
        "nvidia-fabricmanager-590 (590.48.01-0ubuntu0.25.10.2, a 4.6 kB package that depends "
        "on nvidia-fabricmanager-595), read 2026-12-07",
        "https://github.com/NVIDIA/yum-packaging-fabric-manager (README: `dnf module install "
        "nvidia-driver:${stream}/fm`, the RHEL 8 streams of R570 and before)",
        "Debian/apt apt-pkg/versionmatch.h (a version ending in * matches as a prefix; "
        "`apt-get install --dry-run 'hostname=3.*'` on apt 2.6.1, 2026-12-07)",
        "https://docs.nvidia.com/cuda/cuda-runtime-api/group__CUDART__TYPES.html "
        "(cudaErrorSystemNotReady = 802)",
    ),
)
def fabric_manager(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    drv = report.driver
    fm = drv.fabric_manager
    if not drv.nvswitches:
        return
    not_ready = report.cuda.cu_init_error == SYSTEM_NOT_READY
    pending = [g for g in gpus(report) if g.fabric_state in ("not_started", "in_progress")]
    driver = driver_version(report)
    stopped = fm is not None and fm.running is False
    wrong = fm is not None and fm.running and fm.version and driver and fm.version != driver
    unknown = fm is None or fm.running is None
    if not (stopped or wrong or (unknown and (not_ready or pending))):
        return
    evidence = [
        f"{len(drv.nvswitches)} NVSwitch{'es' if len(drv.nvswitches) != 1 else ''} on the PCI "
        f"bus ({', '.join(sorted({s.device_id for s in drv.nvswitches}))})"
    ]
    if fm is not None:
        state = "running" if fm.running else "not running" if fm.running is False else "unknown"
        evidence.append(f"Fabric Manager: {state} ({fm.how or 'not found'})")
        if fm.version:
            evidence.append(f"nv-fabricmanager --version: {fm.version}; driver {driver or '?'}")
    if not_ready:
        evidence.append(f"cuInit: {SYSTEM_NOT_READY} (802, system not yet initialized)")
    evidence += [f"GPU {g.index}: NVML fabric state {g.fabric_state}" for g in pending]
    # words to replace where no version is known ('<driver>' pasted is a redirection)
    branch = driver.split(".")[0] if driver else "BRANCH"
    title = None
    if wrong:
        title = f"Fabric Manager {fm.version} does not match driver {driver}" if fm else None
    elif stopped:
        title = "NVSwitch system: Fabric Manager is not running, so CUDA cannot start"
    fix = [
        *(
            ()
            if driver
            else ("DRIVER: the version in /proc/driver/nvidia/version; BRANCH: its first number",)
        ),
        *_apt_fabric_manager(branch, driver or "DRIVER"),
        _rhel_fabric_manager(branch, driver or "DRIVER"),
        "$ sudo systemctl enable --now nvidia-fabricmanager",
        "$ sudo journalctl -u nvidia-fabricmanager -b   # why it stopped",
    ]
    if report.host.container:
        fix.insert(0, "Fabric Manager runs on the host, not in this container: fix it there.")
    yield Hit(title=title, evidence=tuple(evidence), fix=tuple(fix))


FIRST_UNVERSIONED_FM_DEB = 580
"""The first branch whose Fabric Manager NVIDIA's CUDA apt repository ships as the package
``nvidia-fabricmanager`` (version ``580.65.06-1``); ``nvidia-fabricmanager-580`` is then only a
virtual package, which apt cannot install at a version (NVIDIA/gpu-driver-container 78fa4ac,
ubuntu22.04/install.sh; #451). Ubuntu's own archive keeps ``nvidia-fabricmanager-<branch>``."""


def _apt_fabric_manager(branch: str, driver: str) -> list[str]:
    """The apt lines for the Fabric Manager of ``driver``, per repository when they differ."""
    # The Debian revision differs by origin: NVIDIA's CUDA repository builds 590.48.01-1,
    # Ubuntu's archive 590.48.01-0ubuntu0.22.04.1; apt matches either with a version glob
    # (a trailing * is a prefix match: apt-pkg/versionmatch.h; tried on apt 2.6.1).
    versioned = f"$ sudo apt-get install 'nvidia-fabricmanager-{branch}={driver}-*'"
    if not branch.isdigit() or int(branch) < FIRST_UNVERSIONED_FM_DEB:
        lines = [f"{versioned}   # Ubuntu (its archive and NVIDIA's CUDA repository)"]
    else:
        lines = [
            f"$ sudo apt-get install 'nvidia-fabricmanager={driver}-*'   # NVIDIA's CUDA "
            f"repository (R{FIRST_UNVERSIONED_FM_DEB} and later)",
            f"{versioned}   # Ubuntu's archive",
        ]
    # Ubuntu 25.10's nvidia-fabricmanager-590 depends on nvidia-fabricmanager-595: the glob
    # matches it, and apt then brings a Fabric Manager that refuses this driver
    lines.append(
        f"If apt would also install a newer branch's Fabric Manager, Ubuntu's archive has made "
        f"nvidia-fabricmanager-{branch} a transitional package (Ubuntu 25.10: 590 pulls 595), "
        "which cannot match this driver: move the driver to that branch instead."
    )
    return lines


LAST_FM_MODULE_PROFILE = 570
"""The last branch NVIDIA's RHEL repository ships as module stream ``<branch>`` with an ``fm``
profile; later branches follow the packaging of the Driver Installation Guide (Kernel
Modules: "All releases beyond driver version 570 will use these packaging conventions")."""


def _rhel_fabric_manager(branch: str, driver: str) -> str:
    """The RHEL way to the Fabric Manager of ``driver``: the ``nvidia-driver:<branch>/fm``
    profile is the scheme up to R570; NVIDIA documents later branches as the streams
    ``<branch>-open`` (RHEL 8/9) and version locks (RHEL 10), with no ``fm`` profile named."""
    if branch.isdigit() and int(branch) <= LAST_FM_MODULE_PROFILE:
        return f"$ sudo dnf module install nvidia-driver:{branch}/fm   # RHEL 8/9"
    return (
        f"RHEL 8/9: `sudo dnf module enable nvidia-driver:{branch}-open`, then install the "
        f"Fabric Manager package of {driver} that `dnf list --showduplicates '*fabricmanager*'` "
        f"names; RHEL 10 has no module streams: lock the branch with `sudo dnf versionlock "
        f"'*nvidia*{branch}*'` instead"
    )


def driver_line_cause(report: Report, kb: KnowledgeBase) -> str | None:
    """What a Kernel driver finding already names as the reason no GPU reaches NVML or CUDA,
    in words with its ID: nouveau holds the GPU, the installed driver cannot drive it, or a
    passthrough driver holds every GPU. None when the line names no such cause.

    The NVML and CUDA findings that follow from it point there instead of sending the user to
    `modprobe`, a module rebuild or `dmesg`.
    """
    if not is_linux_host(report):
        return None
    functions = [fn for fn in report.driver.pci_functions if is_gpu_function(fn)]
    if report.driver.module_version is None and any(fn.driver == "nouveau" for fn in functions):
        return "nouveau owns the GPU (GD-DRV-002)"
    if driver_refuses_gpu(report, kb):
        return "the installed driver cannot drive this GPU (GD-DRV-007, GD-DRV-008 or GD-DRV-009)"
    if functions and all(set_aside_for_vm(fn.driver) for fn in functions):
        return "every GPU is bound to a passthrough driver (GD-DRV-011)"
    return None


def refused_gpus(report: Report, kb: KnowledgeBase) -> set[str]:
    """PCI addresses (``dddd:bb:dd.f``) of the GPUs GD-DRV-007, -008 or -009 say the installed
    driver cannot drive: the finding that names a GPU NVML does not list for that reason."""
    flavour = loaded_module_flavour(report)
    found = []
    if flavour in ("proprietary", "open"):
        found += [
            fn
            for fn, _ in _mismatched(
                report, kb, "open" if flavour == "proprietary" else "proprietary"
            )
        ]
    driver = installed_driver(report)
    if driver is not None:
        found += [
            fn
            for fn in _driven_gpus(report)
            if ask(kb.driver_drops_device, driver, fn.device_id) is not None
        ]
    return {pci_address(fn.address) for fn in found}


def driver_refuses_gpu(report: Report, kb: KnowledgeBase) -> bool:
    """True when GD-DRV-007, -008 or -009 explain why the driver took no GPU (so the generic
    "module not loaded" finding does not send the user to rebuild it)."""
    flavour = loaded_module_flavour(report)
    if flavour == "proprietary" and _mismatched(report, kb, "open"):
        return True
    if flavour == "open" and _mismatched(report, kb, "proprietary"):
        return True
    driver = installed_driver(report)
    return driver is not None and any(
        ask(kb.driver_drops_device, driver, fn.device_id) is not None for fn in _driven_gpus(report)
    )
