"""NVML rules: why NVML did not start (library, driver, mismatch, permission, hang, bindings)."""

from __future__ import annotations

from collections.abc import Iterator

from gpudoctor.model.derived import (
    a_container,
    all_excluded,
    is_gpu_function,
    windows_shows_no_nvidia,
)
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import Report
from gpudoctor.rules.device_access import all_set_aside, device_access_explains, refused_nodes
from gpudoctor.rules.distro import (
    hold_driver,
    install_driver,
    rebuild_module,
    reinstall_libraries,
)
from gpudoctor.rules.facts import (
    NOT_APPLICABLE,
    WSL_LINUX_DRIVER,
    WSL_RESTART,
    ask,
    container_gpu_fix,
    docker_fix,
    env,
    host_gpu_evidence,
    is_linux_host,
    no_nvidia_evidence,
    not_applicable,
    not_applicable_words,
    nvidia_traces,
    on_the_host,
    on_wsl1,
    wsl1_hit,
    wsl_container_fix,
    wsl_docker,
    wsl_dxg_fix,
    wsl_gpu_device,
)
from gpudoctor.rules.hardware_log import xid_step
from gpudoctor.rules.kernel_module import (
    driver_line_cause,
    install_last_branch,
    last_branch_line,
    legacy_series,
)
from gpudoctor.rules.registry import Hit, KnowledgeBase, PciRangeLike, rule

_HANDLED = {
    "ok",
    "library_not_found",
    "driver_not_loaded",
    "lib_rm_version_mismatch",
    "no_permission",
    "timeout",
    "bindings_missing",
}


def _not_applicable(report: Report) -> bool:
    return not_applicable(report, "nvml")


def _nvml_said(report: Report) -> str:
    return f"NVML: {report.nvml.message}" if report.nvml.message else f"NVML: {report.nvml.status}"


def library_version(nvml_version: str | None) -> str | None:
    """The driver release an NVML version string belongs to: ``12.535.104.05`` -> ``535.104.05``.

    ``nvmlSystemGetNVMLVersion`` prefixes the CUDA major on older drivers; nvidia-smi shows
    the rest (``590.48``).
    """
    if not nvml_version:
        return None
    parts = nvml_version.strip().split(".")
    major = parts[0]  # below 100, in ASCII digits: not '²' or 5,000 digits, which int() refuses
    if len(parts) > 1 and major.isascii() and major.isdigit() and len(major.lstrip("0")) <= 2:
        parts = parts[1:]
    return ".".join(parts)


@rule(
    "GD-NVML-001",
    area="nvml",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING, Severity.INFO),
    title="The NVML library (libnvidia-ml) is not installed",
    why="NVML ships with the NVIDIA driver (`libnvidia-ml.so.1`, `nvml.dll`). Without it no "
    "NVIDIA driver is installed, or its user-space part is missing. In a container with "
    "signs of a GPU on the host (an NVIDIA PCI function in `/sys`, `/dev/nvidia*`, the "
    "nvidia module) it means the container was started without GPU access: the NVIDIA "
    "container toolkit mounts the driver's libraries only with `--gpus` (Apptainer and "
    "Singularity only with `--nv`, a Kubernetes pod only with a `nvidia.com/gpu` limit). "
    "In a container with no such sign and a PCI bus that could not be read it is a warning: "
    "gpudoctor cannot tell whether the host has a GPU, and `NVIDIA_VISIBLE_DEVICES` does not "
    "tell either (NVIDIA's CUDA images set it themselves: it says the image wants a GPU, not "
    "that the host has one). Where the bus was read and shows none, GD-DRV-001 says the host "
    "has no GPU, with or without that variable. On a "
    "machine with no NVIDIA GPU at all, and on macOS (where no NVIDIA driver exists), this "
    "finding is replaced by GD-NVML-010. Native Windows shows no PCI bus: "
    "where nothing else shows an NVIDIA driver or GPU either (no nvcuda.dll that counts a "
    "device, no framework that sees a GPU) it is a warning that deep learning runs on the "
    "CPU only unless the PC has an NVIDIA GPU without its driver, with the PowerShell line "
    "that lists its graphics adapters (a laptop with Intel or AMD graphics was told to "
    "install the NVIDIA driver, an error). The install commands follow the "
    "distribution in `os-release` (apt on Debian and Ubuntu, dnf on Fedora and the RHEL family). "
    "A GPU on the PCI bus that the current branches no longer drive (Maxwell, Pascal, Volta: "
    "R580 is their last; knowledge base `driver_branches.toml`) gets its last branch instead "
    "of the current driver (on Fedora RPM Fusion's `akmod-nvidia-580xx`). "
    "A container under WSL2 (Docker Desktop's WSL 2 backend, or Docker Engine inside a WSL "
    "distribution) never shows the GPU on the PCI bus: NVIDIA's container runtime passes it "
    "as `/dev/dxg` and mounts the Windows driver's libraries from its driver store under "
    "`/usr/lib/wsl`. Without `/dev/dxg` (with or without `NVIDIA_VISIBLE_DEVICES`, which CUDA "
    "images set themselves) it is a warning, as Windows may have no NVIDIA GPU, and the fix "
    "is `--gpus all` (Docker Desktop) or the container toolkit inside the WSL distribution, "
    "never a Linux driver. With `/dev/dxg` but no NVIDIA library it is an error: the "
    "container was given WSL2's GPU device without the driver's libraries (`--device "
    "/dev/dxg` alone, or a Windows driver without WSL 2 support), and the fix is `--gpus all` "
    "and an up-to-date Windows driver. WSL 1 (its kernel "
    "release ends `-Microsoft`) has no GPU support at all: the distribution must be converted "
    "to WSL 2 (`wsl --set-version DISTRO 2`).",
    fix="Host: install the NVIDIA driver (`sudo ubuntu-drivers install` on Ubuntu, "
    "`sudo dnf install akmod-nvidia xorg-x11-drv-nvidia-cuda` from RPM Fusion on Fedora). "
    "Container: `docker run --gpus all` (with nvidia-container-toolkit installed and "
    "configured on the host); Podman: `--device nvidia.com/gpu=all` with the toolkit's CDI "
    "specification (`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`). WSL2: "
    "update the Windows driver and run `wsl --update`.",
    sources=(
        "wookayin/gpustat#90 (NVML Shared Library Not Found)",
        "NVIDIA/nvidia-docker#1243",
        "https://docs.nvidia.com/deploy/nvml-api/ (nvmlInit, NVML_ERROR_LIBRARY_NOT_FOUND)",
        "https://docs.nvidia.com/datacenter/tesla/driver-installation-guide/kernel-modules.html "
        "(RHEL 8/9: dnf module enable nvidia-driver:open-dkms, dnf install nvidia-open; RHEL 10: "
        'dnf install nvidia-open; Table 5, "Install the latest", 620 edition, read 2026-12-07)',
        "https://github.com/rpmfusion/nvidia-kmod (akmod-nvidia; its build picks the open "
        "flavour unless a GPU without GSP is present) and https://github.com/rpmfusion/"
        "xorg-x11-drv-nvidia (xorg-x11-drv-nvidia-cuda), read 2026-12-07",
        "https://github.com/robotic-vision-lab/UR-Robotiq-Integrated-Driver/wiki/"
        "Windows-Docker-Instruction (Docker Desktop, WSL 2 backend: docker run --gpus all "
        "... nvidia-smi shows the Windows driver; read 2026-12-07)",
        "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/"
        "cdi-support.html (podman: nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml, "
        "--device nvidia.com/gpu=all; since 1.18 nvidia-cdi-refresh writes /var/run/cdi; read "
        "2026-12-07)",
        "https://pkg.go.dev/github.com/NVIDIA/k8s-device-plugin@v0.19.2 (the device plugin "
        "exposes the number of GPUs on each node; read 2026-12-07)",
        "https://github.com/hansehart/o3s/wiki/GPU-Support (WSL2: the Windows driver, then "
        "the Container Toolkit in the Linux guest; read 2026-12-07)",
        "NVIDIA/libnvidia-container src/nvc_info.c (lookup_devices: under WSL the one device "
        "given to a container is /dev/dxg; read 2026-12-08)",
        "NVIDIA/nvidia-container-toolkit pkg/nvcdi/driver-wsl.go (libcuda.so.1.1, "
        "libnvidia-ml.so.1 ... mounted from the WSL driver store and /usr/lib/wsl/lib, the "
        "store's path used unchanged; read 2026-12-08)",
        "https://docs.docker.com/desktop/features/gpu/ (Docker Desktop: WSL 2 GPU-PV on NVIDIA "
        "GPUs needs NVIDIA drivers supporting it, wsl --update, the WSL 2 backend; docker run "
        "--gpus=all; read 2026-12-08)",
        "Crosstalk-Solutions/project-nomad#1467 (lspci lists nothing under WSL2: the GPU is "
        "paravirtualised through /dev/dxg)",
        "https://docs.nvidia.com/cuda/wsl-user-guide/index.html (CUDA support is specifically "
        "for WSL 2; read 2026-12-07)",
        "microsoft/WSL#5749 (WSL 1: Linux version 4.4.0-19041-Microsoft)",
        "powersj/whatsthis#10 (osrelease: WSL 1 4.4.0-19041-Microsoft, WSL 2 "
        "4.19.128-microsoft-standard)",
        "microsoft/WSL#6186 (wsl --set-version Ubuntu-20.04 2 converts a distribution)",
    ),
)
def library_not_found(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.nvml.status != "library_not_found" or _not_applicable(report):
        return
    host = report.host
    said = _nvml_said(report)
    if host.container and wsl_docker(report):
        yield _wsl_container(report, said, kb)
    elif host.container and host_gpu_evidence(report):
        evidence = [said, f"running in {a_container(host.container)}"]
        evidence += [f"sign of a GPU: {e}" for e in host_gpu_evidence(report)]
        if report.site is not None and report.site.nv_libs is False:
            evidence.append("/.singularity.d/libs has no libcuda.so.1: started without --nv")
        elif env(report, "NVIDIA_VISIBLE_DEVICES") is None:
            evidence.append("NVIDIA_VISIBLE_DEVICES is not set")
        fix = container_gpu_fix(report, kb) or docker_fix(kb, host.container)
        if nvidia_traces(report):  # the host's own GPU, seen through /sys
            yield Hit(
                title="The container was started without GPU access",
                evidence=tuple(evidence),
                fix=fix,
            )
        else:
            # the variable alone: NVIDIA's CUDA images set it themselves, on a laptop too
            evidence.append(
                "NVIDIA's CUDA images set NVIDIA_VISIBLE_DEVICES themselves: it says the image "
                "wants a GPU, not that the host has one"
            )
            yield Hit(
                severity=Severity.WARNING,
                title="This container expects a GPU, but none is visible in it",
                evidence=tuple(evidence),
                fix=("If the host has an NVIDIA GPU:", *fix),
            )
    elif host.container:
        yield Hit(
            severity=Severity.WARNING,
            title="No NVIDIA GPU or driver is visible in this container",
            evidence=(
                said,
                f"running in {a_container(host.container)}",
                "the PCI bus could not be read, so whether the host has a GPU is unknown",
                "NVIDIA_VISIBLE_DEVICES is not set",
            ),
            fix=(
                "If the host has an NVIDIA GPU:",
                *(container_gpu_fix(report, kb) or docker_fix(kb, host.container)),
            ),
        )
    elif on_wsl1(report):
        yield wsl1_hit(report, said)
    elif host.wsl:
        yield Hit(
            title="WSL2 does not expose the Windows NVIDIA driver",
            evidence=(said, "/usr/lib/wsl/lib/libnvidia-ml.so.1 could not be loaded"),
            fix=(
                "Install or update the NVIDIA driver on Windows (not inside WSL), then in "
                "PowerShell:",
                "> wsl --update",
                "> wsl --shutdown",
            ),
        )
    elif windows_shows_no_nvidia(report):
        # a Windows laptop without an NVIDIA GPU was told to install the driver (an error)
        yield Hit(
            severity=Severity.WARNING,
            title="No NVIDIA driver on this PC (nvml.dll not found): deep learning here runs on "
            "the CPU only, unless it has an NVIDIA GPU without its driver",
            evidence=(
                said,
                "Windows shows gpudoctor no PCI bus: whether this PC has an NVIDIA GPU is unknown",
            ),
            fix=(
                "Nothing to do if this PC has no NVIDIA GPU: PyTorch and TensorFlow use the CPU.",
                "Its graphics adapters, in PowerShell:",
                "> Get-CimInstance Win32_VideoController | Select-Object Name",
                "If one is an NVIDIA GPU, install its driver: "
                "https://www.nvidia.com/Download/index.aspx",
            ),
        )
    elif host.os == "windows":
        yield Hit(
            title="No NVIDIA driver is installed (nvml.dll not found)",
            evidence=(said,),
            fix=("Install the NVIDIA driver: https://www.nvidia.com/Download/index.aspx",),
        )
    elif report.driver.module_version:
        branch = report.driver.module_version.split(".")[0]
        yield Hit(
            title="The driver's user-space libraries are missing (libnvidia-ml.so.1)",
            evidence=(said, f"the kernel module {report.driver.module_version} is loaded"),
            fix=(
                "Reinstall the driver's user-space packages for the loaded module:",
                *reinstall_libraries(report, branch),
            ),
        )
    else:
        dropped = _dropped_gpus(report, kb)
        yield Hit(
            title="No NVIDIA driver is installed",
            evidence=(said, "no nvidia kernel module", *(line for line, _ in dropped)),
            # the current branches (R590 on) drive none of these GPUs: install their last one
            fix=install_last_branch(report, [row for _, row in dropped], replacing=False)
            if dropped
            else (*install_driver(report), "$ sudo reboot"),
        )


def _dropped_gpus(report: Report, kb: KnowledgeBase) -> list[tuple[str, PciRangeLike]]:
    """The GPUs on the PCI bus that a branch already dropped, each as an evidence line and its
    row (knowledge base ``driver_branches.toml``)."""
    found = []
    for fn in report.driver.pci_functions:
        row: PciRangeLike | None = ask(kb.pci_range, fn.device_id) if is_gpu_function(fn) else None
        if row is not None and row.last_branch is not None:
            found.append((last_branch_line(fn, row), row))
    return found


def _wsl_container(report: Report, said: str, kb: KnowledgeBase) -> Hit:
    """GD-NVML-001 in a docker container under WSL2, which never shows the GPU in /sys: the
    container's /dev/dxg says whether it was given the GPU; NVIDIA_VISIBLE_DEVICES, which
    NVIDIA's CUDA images set themselves, says only that the image wants one."""
    host = report.host
    evidence = [said, f"running in {a_container(host.container or 'docker')} under WSL2"]
    if wsl_gpu_device(report):
        evidence.append("/dev/dxg is here: the container was given WSL2's GPU device")
        evidence.append(
            f"the Windows driver's libcuda is at {host.wsl_libcuda}, but NVML was not found"
            if host.wsl_libcuda
            else "no libcuda of the Windows driver under /usr/lib/wsl"
        )
        return Hit(
            title="The container has WSL2's GPU device (/dev/dxg) but not the NVIDIA driver's "
            "libraries",
            evidence=tuple(evidence),
            fix=wsl_dxg_fix(kb),
        )
    traces = nvidia_traces(report)
    evidence += [f"sign of a GPU: {e}" for e in traces]
    if host.dxg is False:
        evidence.append(
            "no /dev/dxg: under WSL2 a container reaches the GPU through /dev/dxg, which "
            "docker passes only to a container started with --gpus"
        )
    else:
        evidence.append(
            "under WSL2 the GPU is /dev/dxg, not a PCI device: whether Windows has an NVIDIA "
            "GPU cannot be seen from this container"
        )
    visible = env(report, "NVIDIA_VISIBLE_DEVICES")
    evidence.append(
        "NVIDIA_VISIBLE_DEVICES is not set"
        if visible is None
        else f"NVIDIA_VISIBLE_DEVICES={visible!r}: NVIDIA's CUDA images set it themselves, so "
        "it says the image wants a GPU, not that Windows has one"
    )
    if traces:
        return Hit(
            title="The container was started without GPU access",
            evidence=tuple(evidence),
            fix=wsl_container_fix(kb),
        )
    return Hit(
        severity=Severity.WARNING,
        title="No NVIDIA GPU or driver is visible in this container under WSL2"
        if visible is None
        else "This container expects a GPU, but none is visible in it under WSL2",
        evidence=tuple(evidence),
        fix=("If Windows has an NVIDIA GPU:", *wsl_container_fix(kb)),
    )


@rule(
    "GD-NVML-002",
    area="nvml",
    severity=Severity.ERROR,
    title="NVML cannot reach the NVIDIA kernel driver",
    why="NVML loaded but reports *Driver Not Loaded*: the user-space driver is installed and "
    "the kernel module is not running (see the kernel driver line for why). Where that line "
    "already names a cause that loading or rebuilding the module cannot fix (nouveau owns the "
    "GPU, or the installed driver cannot drive it: GD-DRV-002, GD-DRV-007 to GD-DRV-009), "
    "this finding points there instead. Under WSL2 there is no nvidia kernel module to load: "
    "the Windows driver serves the GPU through `/dev/dxg` and its own `libnvidia-ml.so.1` in "
    "`/usr/lib/wsl/lib`; a Linux driver package installed inside WSL (`nvidia-driver-NNN`, "
    "`nvidia-utils-NNN`, the CUDA repository's `cuda` or `cuda-drivers`) puts a Linux NVML "
    "and `nvidia-smi` first, and they answer *Driver Not Loaded*.",
    fix="Load the module (`sudo modprobe nvidia`) and read `dmesg`; after a kernel update "
    "rebuild it (DKMS, or akmods on Fedora); with Secure Boot enroll the module key; reboot "
    "(from a container, all of this on the host, whose kernel it shares). "
    "WSL2: install no Linux driver inside WSL and remove any that is (`nvidia-driver-NNN`, "
    "`libnvidia-compute-NNN`, `nvidia-utils-NNN`), run `sudo ldconfig`, and keep the NVIDIA "
    "driver on Windows up to date.",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/ (NVML_ERROR_DRIVER_NOT_LOADED)",
        "GoogleCloudPlatform/compute-gpu-installation#18",
        "https://docs.nvidia.com/cuda/wsl-user-guide/index.html (Step 1: install the Windows "
        "driver; no Linux display driver may be installed in WSL 2; read 2026-12-07)",
        "microsoft/WSL#5265 (nvidia-driver-440 installed inside WSL 2: nvidia-smi cannot "
        "communicate with the driver)",
        "microsoft/WSL#9134 (WSL 2: Failed to properly shut down NVML: Driver Not Loaded)",
    ),
)
def driver_not_loaded(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.nvml.status != "driver_not_loaded" or _not_applicable(report):
        return
    if report.host.wsl:  # no kernel module to load: a Linux NVML took the Windows one's place
        yield Hit(
            title="WSL2: NVML cannot reach the Windows NVIDIA driver",
            evidence=(
                _nvml_said(report),
                "running under WSL2: the Windows driver serves the GPU; there is no nvidia "
                "kernel module to load here",
            ),
            fix=(
                *WSL_LINUX_DRIVER,
                "Otherwise update the NVIDIA driver on Windows, then in PowerShell:",
                "> wsl --update",
                "> wsl --shutdown",
            ),
        )
        return
    named = driver_line_cause(report, kb)
    if named is not None:  # loading or rebuilding the module would not help: say where to look
        yield Hit(
            evidence=(_nvml_said(report), f"the Kernel driver line says why: {named}"),
            fix=(
                "Fix what the Kernel driver line names first; NVML starts once the nvidia "
                "module does.",
            ),
        )
        return
    yield Hit(
        evidence=(_nvml_said(report),),
        fix=on_the_host(
            report,
            (
                "$ sudo modprobe nvidia && sudo dmesg | grep -i nvidia | tail",
                *rebuild_module(report),
                "$ sudo reboot",
            ),
        ),
    )


@rule(
    "GD-NVML-003",
    area="nvml",
    severity=Severity.ERROR,
    title="Driver/library version mismatch: the driver was updated but the old module runs",
    why="NVML refuses to start (`Failed to initialize NVML: Driver/library version mismatch`) "
    "when the user-space driver libraries and the loaded kernel module come from different "
    "releases. It almost always follows a driver upgrade (often an unattended one) without a "
    "reboot. gpudoctor compares `/sys/module/nvidia/version` with NVML's own version.",
    fix="Reboot. Without a reboot, unload and reload the modules when nothing uses the GPU "
    "(`sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia`). Hold "
    "the driver packages so unattended upgrades stop replacing them under a running system "
    "(`sudo apt-mark hold` on Debian and Ubuntu, `sudo dnf versionlock add` on Fedora and the RHEL "
    "family). Under WSL2 there is no module: remove a Linux driver installed inside WSL and "
    "restart the WSL 2 virtual machine (`wsl --shutdown` in PowerShell).",
    sources=(
        "oddmario/NVIDIA-Ubuntu-Driver-Guide#4",
        "NVIDIA/nvidia-container-toolkit#394",
        "negativo17/nvidia-driver#171",
    ),
)
def version_mismatch(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    nvml = report.nvml
    module = report.driver.module_version
    library = library_version(nvml.nvml_version)
    differ = bool(module and library and not module.startswith(library))
    if nvml.status != "lib_rm_version_mismatch" and not (nvml.status != "ok" and differ):
        return
    evidence = [_nvml_said(report)]
    branch = (module or library or "").split(".")[0]
    if module:
        evidence.append(f"kernel module: {module}")
    if library:
        evidence.append(f"NVML library: {library}")
    if report.host.wsl:  # no module to reload: a Linux NVML, or a Windows driver updated under WSL
        yield Hit(
            evidence=(*evidence, "running under WSL2: the Windows driver serves the GPU"),
            fix=(
                *WSL_LINUX_DRIVER,
                *WSL_RESTART,
            ),
        )
        return
    yield Hit(
        evidence=tuple(evidence),
        fix=on_the_host(
            report,
            (
                "$ sudo reboot",
                "or, when no process uses the GPU:",
                "$ sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia",
                "Then stop unattended driver upgrades:",
                *hold_driver(report, branch, legacy=legacy_series(report, kb, branch)),
            ),
        ),
    )


@rule(
    "GD-NVML-004",
    area="nvml",
    severity=Severity.ERROR,
    title="No permission to open the NVIDIA device files",
    why="NVML needs read and write access to `/dev/nvidiactl` and `/dev/nvidiaN`. A restrictive "
    "udev rule, a device cgroup, or a sandbox (snap, flatpak) denies it.",
    fix="Check `ls -l /dev/nvidia*` (usually `crw-rw-rw-`); add the user to the group that "
    "owns them, or run the container with `--gpus`.",
    sources=("https://docs.nvidia.com/deploy/nvml-api/ (NVML_ERROR_NO_PERMISSION)",),
)
def no_permission(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.nvml.status != "no_permission" or device_access_explains(report):
        return  # GD-NVML-011/012/013 name the cgroup or security module that refused
    yield Hit(
        evidence=(_nvml_said(report), *refused_nodes(report)),
        fix=("$ ls -l /dev/nvidia*", "$ sudo usermod -aG video $USER   # then log in again"),
    )


@rule(
    "GD-NVML-005",
    area="nvml",
    severity=Severity.ERROR,
    title="NVML did not answer: the NVIDIA driver is probably wedged",
    why="Querying NVML took longer than the probe's time limit (check's `--timeout`). A healthy "
    "driver answers in well under a second; a wedged one (after an Xid 79 *fallen off the "
    "bus*, or Xid 45/119) leaves callers stuck in uninterruptible sleep. Only a reset or "
    "reboot clears it.",
    fix="Look for Xid errors (`sudo dmesg | grep -i xid`), then reboot. If it recurs, check "
    "power, seating and cooling of the GPU. Under WSL2 (the Windows driver serves the GPU): "
    "`wsl --shutdown` in PowerShell, or restart Windows.",
    sources=(
        "NVIDIA/open-gpu-kernel-modules#507",
        "leptonai/gpud#117 (NVML calls that hang)",
    ),
)
def nvml_timeout(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.nvml.status != "timeout":
        return
    yield Hit(
        evidence=(_nvml_said(report),),
        # under WSL2 the Windows driver serves the GPU: no Xid in this kernel's log, no module
        fix=WSL_RESTART
        if report.host.wsl
        else on_the_host(report, (xid_step(report), "$ sudo reboot")),
    )


@rule(
    "GD-NVML-006",
    area="nvml",
    severity=Severity.WARNING,
    title="The NVML Python bindings are missing or broken",
    why="gpudoctor reads NVML through the official bindings (`nvidia-ml-py`, module `pynvml`). "
    "The unofficial `pynvml` package from PyPI installs a module of the same name and breaks "
    "them. Without bindings the GPU facts (health, MIG, memory) are missing from this report.",
    fix="`pip install -U nvidia-ml-py`, and `pip uninstall pynvml` if the old fork is present.",
    sources=(
        "https://pypi.org/project/nvidia-ml-py/",
        "wookayin/gpustat#107 (the pynvml fork shadows nvidia-ml-py)",
        "wookayin/gpustat#161",
    ),
)
def bindings_missing(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.nvml.status != "bindings_missing" or _not_applicable(report):
        return
    yield Hit(
        evidence=(_nvml_said(report),),
        fix=("$ pip uninstall -y pynvml", "$ pip install -U nvidia-ml-py"),
    )


@rule(
    "GD-NVML-007",
    area="nvml",
    severity=Severity.ERROR,
    title="NVML failed to start",
    why="NVML returned an error gpudoctor has no specific entry for (`Unknown Error` is the "
    "usual one: a GPU in a bad state, or a driver that needs a reboot).",
    fix="Run `nvidia-smi` to see the same error first-hand, look for Xid errors in `dmesg`, "
    "and reboot (under WSL2: `wsl --shutdown` in PowerShell, or restart Windows).",
    sources=("https://docs.nvidia.com/deploy/nvml-api/ (nvmlInit and its error codes)",),
)
def other_failure(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    nvml = report.nvml
    if nvml.status in _HANDLED or device_access_explains(report):
        return  # handled above, or GD-NVML-011/012/013 name the cause
    module, library = report.driver.module_version, library_version(nvml.nvml_version)
    if module and library and not module.startswith(library):
        return  # GD-NVML-003 names the cause
    yield Hit(
        title=f"NVML failed to start ({nvml.status})",
        evidence=(_nvml_said(report),),
        fix=("$ nvidia-smi", *WSL_RESTART)
        if report.host.wsl
        else (
            "$ nvidia-smi",
            *on_the_host(report, ("$ sudo dmesg | grep -iE 'xid|nvrm' | tail", "$ sudo reboot")),
        ),
    )


@rule(
    "GD-NVML-008",
    area="nvml",
    severity=Severity.INFO,
    title="Some NVML functions are missing: nvidia-ml-py is newer than the driver",
    why="The bindings asked the driver for functions it does not have (*Function Not Found*). "
    "Those facts are missing from the report; everything else is unaffected.",
    fix="Nothing is broken. To read every fact, update the driver, or pin an `nvidia-ml-py` "
    "of the driver's release.",
    sources=(
        "https://docs.nvidia.com/deploy/nvml-api/ (NVML_ERROR_FUNCTION_NOT_FOUND)",
        "XuehaiPan/nvitop nvitop/cli.py (FunctionNotFound)",
        "wookayin/gpustat nvml.py",
    ),
)
def missing_functions(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    missing = report.nvml.missing_functions
    if report.nvml.status != "ok" or not missing:
        return
    shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    yield Hit(evidence=(f"not in this driver: {shown}",))


@rule(
    "GD-NVML-009",
    area="nvml",
    severity=Severity.ERROR,
    title="NVML started but sees no GPU",
    why="The driver is loaded and NVML answers, but it lists no GPU: in a container the GPUs "
    "were not passed in (`NVIDIA_VISIBLE_DEVICES` is empty or `void`), or every GPU failed "
    "to initialise. The driver refuses a GPU whose kernel-module flavour does not fit it "
    "(GD-DRV-007, GD-DRV-008) or that its branch no longer supports (GD-DRV-009): those "
    "findings name the cause when the PCI bus shows it. Where the driver excluded every "
    "GPU on purpose (`NVreg_ExcludedGpus`, as NVML names them), GD-GPU-070 says so instead.",
    fix="Container: `docker run --gpus all`. Host: `sudo dmesg | grep -iE 'nvidia|NVRM'` "
    "for GPUs the driver rejected.",
    sources=("https://docs.nvidia.com/deploy/nvml-api/ (nvmlDeviceGetCount)",),
)
def no_gpu_listed(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.nvml.status != "ok" or report.nvml.gpus or all_set_aside(report):
        return  # GD-DRV-011: every GPU is held by a passthrough driver
    if all_excluded(report):
        return  # GD-GPU-070: the admin excluded every GPU (NVreg_ExcludedGpus)
    evidence = ["NVML device count: 0"]
    visible = env(report, "NVIDIA_VISIBLE_DEVICES")
    if visible is not None:
        evidence.append(f"NVIDIA_VISIBLE_DEVICES={visible!r}")
    named = driver_line_cause(report, kb)
    if named is not None:  # dmesg would only repeat what that finding says
        evidence.append(f"the Kernel driver line says why: {named}")
        fix: tuple[str, ...] = (
            "Fix what the Kernel driver line names first; NVML lists the GPU once the driver "
            "takes it.",
        )
    elif report.host.container:
        fix = docker_fix(kb, report.host.container)
    elif is_linux_host(report):
        fix = ("$ sudo dmesg | grep -iE 'nvidia|NVRM' | tail -n 30",)
    else:
        fix = ("Reinstall the NVIDIA driver and reboot.",)
    yield Hit(evidence=tuple(evidence), fix=fix)


@rule(
    "GD-NVML-010",
    area="nvml",
    severity=Severity.INFO,
    title=f"NVML {NOT_APPLICABLE}",
    why="NVML is the NVIDIA driver's management library. On a machine with no NVIDIA GPU "
    "(GD-DRV-001) its absence, or a driver without its kernel module, is expected and not a "
    "problem of its own, so this information finding replaces GD-NVML-001, GD-NVML-002 and "
    "GD-NVML-006 there. On macOS, which has no NVIDIA driver at all, it reads *NVML not "
    "applicable on macOS*.",
    fix="Nothing to do: see GD-DRV-001.",
    marks_unchecked=True,
    sources=("https://pci-ids.ucw.cz/read/PC/10de (NVIDIA's PCI vendor ID 0x10de)",),
)
def no_gpu(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if _not_applicable(report):
        yield Hit(
            title=f"NVML {not_applicable_words(report)}",
            evidence=(_nvml_said(report), no_nvidia_evidence(report)),
        )
