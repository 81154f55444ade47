"""CUDA user-space rules: libcuda, cuInit failures, a hung CUDA probe, GPUs CUDA cannot see."""

from __future__ import annotations

from collections.abc import Iterator

from gpudoctor.model.derived import (
    a_container,
    all_excluded,
    excluded_gpus,
    windows_shows_no_nvidia,
)
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import Report
from gpudoctor.rules.device_access import blocked_cuinit
from gpudoctor.rules.distro import install_compute_libraries
from gpudoctor.rules.facts import (
    WSL_RESTART,
    container_gpu_fix,
    docker_start,
    env,
    gpudoctor_start,
    gpus,
    is_linux_host,
    no_nvidia_evidence,
    not_applicable,
    not_applicable_words,
    nvidia_traces,
    on_the_host,
    on_wsl1,
    wsl1_hit,
    wsl_docker,
    wsl_dxg_fix,
    wsl_gpu_device,
)
from gpudoctor.rules.gpu_count import excluded_evidence
from gpudoctor.rules.hardware_log import xid_step
from gpudoctor.rules.kernel_module import driver_line_cause, legacy_series
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

CU_UNKNOWN = 999
CU_SYSTEM_DRIVER_MISMATCH = 803
CU_COMPAT_NOT_SUPPORTED = 804
CU_NO_DEVICE = 100
CU_INVALID_DEVICE = 101

# Advice for the other cuInit results seen in the wild (CUresult values from cuda.h).
OTHER_CU_ERRORS: dict[int, tuple[str, str]] = {
    34: (
        "libcuda is the CUDA toolkit's link-time stub, not the driver",
        "Remove the toolkit's stubs folder (…/lib64/stubs) from LD_LIBRARY_PATH.",
    ),
    35: (
        "the driver is older than this libcuda",
        "Reboot after a driver update; remove other libcuda copies from the library path.",
    ),
    304: (
        "an operating-system call failed (often /dev/nvidia-uvm missing or not writable)",
        "$ ls -l /dev/nvidia*",
    ),
    3: ("CUDA was not initialised", "Run `gpudoctor check --debug` and report the output."),
    # CUDA_ERROR_SYSTEM_NOT_READY: "verify ... all required driver daemons are actively
    # running" (CUDA driver API); on HGX/DGX that daemon is Fabric Manager (GD-DRV-010).
    802: (
        "the system is not ready for CUDA (on an NVSwitch system: Fabric Manager has not set "
        "up the fabric, GD-DRV-010)",
        "$ systemctl status nvidia-fabricmanager   # see GD-DRV-010 on the Kernel driver line",
    ),
}


def cu_init_text(report: Report) -> str:
    """``cuInit: 999 (CUDA_ERROR_UNKNOWN)``."""
    cuda = report.cuda
    name = cuda.cu_init_error or "?"
    return f"cuInit returned {cuda.cu_init_result} ({name})"


def _libcuda_version(report: Report) -> str | None:
    for lib in report.cuda.libraries:
        if lib.name == "cuda" and lib.version:
            return lib.version
    return None


def libcuda_missing(report: Report) -> bool:
    """True when libcuda could not be opened, by the CUDA probe or (NVML's v2 call) the driver."""
    cuda = report.cuda
    if cuda.libcuda_error:
        return True
    return bool(report.nvml.cuda_v2_error) and cuda.cu_init_result is None and cuda.status != "ok"


def _not_applicable(report: Report) -> bool:
    return not_applicable(report, "cuda")


@rule(
    "GD-CUDA-001",
    area="cuda",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING, Severity.INFO),
    title="libcuda.so.1 (the CUDA driver library) cannot be loaded",
    why="Every CUDA program loads the driver's `libcuda.so.1` (`nvcuda.dll` on Windows). When "
    "NVML works but libcuda does not, the signature of a container started with "
    "`NVIDIA_DRIVER_CAPABILITIES` lacking `compute` (only `utility` libraries mounted; "
    "`nvidia-smi` shows *CUDA Version: N/A*): NVML's `nvmlSystemGetCudaDriverVersion_v2` "
    "fails while v1 answers. On a host it means the driver's compute package is missing; "
    "under WSL2 it lives in `/usr/lib/wsl/lib`. In a container whose PCI bus could not be "
    "read and that shows no GPU of its host (`NVIDIA_VISIBLE_DEVICES`, which CUDA images set "
    "themselves, is no such sign) it is a warning, as GD-NVML-001 is there; under WSL2, where "
    "no container shows a GPU in `/sys`, it is a warning without `/dev/dxg` and an error with "
    "it (the container was given WSL2's GPU device without the driver's libraries: `--gpus "
    "all` mounts them). On macOS (no CUDA at all) and on a machine with no NVIDIA GPU "
    "(GD-DRV-001) GD-CUDA-010 replaces it (a Mac's report that counts CUDA devices reads "
    "information).",
    fix="Container: `-e NVIDIA_DRIVER_CAPABILITIES=compute,utility` (compose: "
    "`capabilities: [gpu, compute, utility]`). Host: install the driver's compute libraries "
    "(Ubuntu `libnvidia-compute-BRANCH`, Debian `libcuda1`, Fedora "
    "`xorg-x11-drv-nvidia-cuda-libs`, or `xorg-x11-drv-nvidia-580xx-cuda-libs` for RPM "
    "Fusion's 580xx series: named where driver 580 runs a GPU that later branches dropped, "
    "both where the report cannot tell; RHEL family `nvidia-driver-cuda-libs`). WSL2: put "
    "`/usr/lib/wsl/lib` on the library path. WSL 1 has no GPU support: convert the "
    "distribution to WSL 2 (GD-NVML-001 names the sources).",
    sources=(
        "mudler/LocalAI#11973 (NVIDIA_DRIVER_CAPABILITIES without compute)",
        "AbdBarho/stable-diffusion-webui-docker#348",
        "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/"
        "docker-specialized.html (driver capabilities)",
        "NVIDIA/libnvidia-container src/nvc_info.c (under WSL the container gets /dev/dxg) and "
        "src/dxcore.c (libcuda.so.1.1 from the Windows driver store); read 2026-12-08",
        "https://docs.docker.com/desktop/features/gpu/ (docker run --gpus=all under Docker "
        "Desktop's WSL 2 backend; read 2026-12-08)",
    ),
)
def libcuda_not_loaded(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if not libcuda_missing(report) or _not_applicable(report):
        return
    cuda, nvml, host = report.cuda, report.nvml, report.host
    evidence = []
    if cuda.libcuda_error:
        evidence.append(f"loader: {cuda.libcuda_error}")
    if nvml.cuda_v2_error:
        evidence.append(
            f"nvmlSystemGetCudaDriverVersion_v2: {nvml.cuda_v2_error} (v1 answered)"
            if nvml.cuda_driver_version
            else f"nvmlSystemGetCudaDriverVersion_v2: {nvml.cuda_v2_error}"
        )
    if host.container and nvml.status == "ok":
        caps = env(report, "NVIDIA_DRIVER_CAPABILITIES")
        evidence.append(
            f"NVIDIA_DRIVER_CAPABILITIES={caps!r}"
            if caps is not None
            else "NVIDIA_DRIVER_CAPABILITIES is not set (the default is utility only)"
        )
        yield Hit(
            title="The container has NVML but not libcuda: its driver capabilities lack compute",
            evidence=tuple(evidence),
            fix=(
                "docker run --gpus all -e NVIDIA_DRIVER_CAPABILITIES=compute,utility ...",
                "compose: deploy.resources.reservations.devices: "
                "capabilities: [gpu, compute, utility]",
            ),
        )
    elif host.os == "darwin":  # a Mac's report that counts CUDA devices; else GD-CUDA-010
        yield Hit(
            severity=Severity.INFO,
            title="macOS has no CUDA driver library",
            evidence=tuple(evidence),
            fix=(
                "On a Mac, PyTorch can use the Apple GPU through MPS (GD-DRV-001 says whether "
                "it does here); CUDA needs an NVIDIA GPU on Linux or Windows.",
            ),
        )
    elif host.container:
        given = container_gpu_fix(report, kb) or (
            *docker_start(kb, host.container),
            "(see the NVML line for the host's nvidia-container-toolkit setup)",
        )
        if wsl_gpu_device(report) and wsl_docker(report):
            # under WSL2 /dev/dxg is what a container started with the GPU has
            yield Hit(
                title="The container has WSL2's GPU device (/dev/dxg) but not the NVIDIA "
                "driver's libcuda",
                evidence=(*evidence, "/dev/dxg is here: the container was given WSL2's GPU device"),
                fix=wsl_dxg_fix(kb),
            )
        elif nvidia_traces(report):
            yield Hit(
                title="The container has no NVIDIA driver libraries: it was started without GPUs",
                evidence=tuple(evidence),
                fix=given,
            )
        else:
            # no GPU of the host shows here (under WSL2 none ever does in /sys, and no
            # /dev/dxg was given; NVIDIA_VISIBLE_DEVICES, which CUDA images set themselves, is
            # no sign; or a PCI bus that could not be read): as GD-NVML-001, a warning
            where = "Windows" if host.wsl else "the host"
            yield Hit(
                severity=Severity.WARNING,
                title="The container has no NVIDIA driver libraries and shows no GPU of "
                + ("Windows (WSL2)" if host.wsl else "the host"),
                evidence=tuple(evidence),
                fix=(f"If {where} has an NVIDIA GPU:", *given),
            )
    elif on_wsl1(report):
        yield wsl1_hit(report, *evidence)
    elif host.wsl:
        yield Hit(
            title="WSL2: libcuda.so.1 from the Windows driver is not on the library path",
            evidence=tuple(evidence),
            fix=(
                "$ ls -l /usr/lib/wsl/lib/libcuda.so.1",
                "$ export LD_LIBRARY_PATH=/usr/lib/wsl/lib:$LD_LIBRARY_PATH",
                "If the file is missing: update the Windows NVIDIA driver, then in PowerShell:",
                "> wsl --update",
            ),
        )
    elif windows_shows_no_nvidia(report):
        yield Hit(
            severity=Severity.INFO,
            title="No CUDA driver library (nvcuda.dll): no NVIDIA driver on this PC (see the "
            "NVML line)",
            evidence=tuple(evidence),
            fix=("The NVML line (GD-NVML-001) says what to do if this PC has an NVIDIA GPU.",),
        )
    elif host.os == "windows":
        yield Hit(
            title="nvcuda.dll (the CUDA driver library) cannot be loaded",
            evidence=tuple(evidence),
            fix=("Reinstall the NVIDIA driver: https://www.nvidia.com/Download/index.aspx",),
        )
    else:
        branch = (nvml.driver_version or report.driver.module_version or "").split(".")[0]
        fix: tuple[str, ...] = (
            *(
                install_compute_libraries(report, branch, legacy=legacy_series(report, kb, branch))
                if branch
                else ("Install the NVIDIA driver (its compute libraries provide libcuda.so.1).",)
            ),
            "$ ldconfig -p | grep libcuda.so.1",
        )
        yield Hit(evidence=tuple(evidence), fix=fix)


@rule(
    "GD-CUDA-002",
    area="cuda",
    severity=Severity.ERROR,
    title="cuInit fails with CUDA_ERROR_UNKNOWN (999): the nvidia_uvm module is in a bad state",
    why="`CUDA unknown error - this may be due to an incorrectly set up environment` while "
    "`nvidia-smi` works: CUDA needs the `nvidia_uvm` module and `/dev/nvidia-uvm`. Both go "
    "missing or stale after a suspend/resume or a driver reload; containers inherit the "
    "host's state. When this process may not open the NVIDIA device files at all (a device "
    "cgroup or a security module, GD-NVML-011 to GD-NVML-013), the finding says so and points "
    "there instead.",
    fix="On the host, with no CUDA process running: `sudo rmmod nvidia_uvm && sudo modprobe "
    "nvidia_uvm` (or reboot). Under WSL2, which has no nvidia module, restart the WSL 2 virtual "
    "machine from PowerShell (`wsl --shutdown`), or Windows.",
    sources=(
        "pytorch/pytorch#88639 (CUDA unknown error after suspend)",
        "pytorch/pytorch#49081",
        "wsl.exe --help (--shutdown: immediately terminates all running distributions and the "
        "WSL 2 lightweight utility virtual machine)",
    ),
)
def unknown_error(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.cuda.cu_init_result != CU_UNKNOWN or _not_applicable(report):
        return
    blocked = blocked_cuinit(report)
    if blocked is not None:  # a device cgroup or security module, not nvidia_uvm
        yield blocked
        return
    drv = report.driver
    evidence = [cu_init_text(report)]
    uvm_missing = drv.uvm_loaded is False or (
        bool(drv.dev_nodes) and "/dev/nvidia-uvm" not in drv.dev_nodes
    )
    if drv.uvm_loaded is False:
        evidence.append("the nvidia_uvm module is not loaded")
    if drv.dev_nodes and "/dev/nvidia-uvm" not in drv.dev_nodes:
        evidence.append("/dev/nvidia-uvm is missing")
    if report.nvml.status == "ok":
        evidence.append("NVML works")
    fix = [
        "$ sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm   # with no CUDA process running",
        "or: $ sudo reboot",
    ]
    if report.host.wsl:  # the Windows driver serves the GPU: no nvidia_uvm here
        fix = list(WSL_RESTART)
        uvm_missing = False
        evidence = [e for e in evidence if "nvidia_uvm" not in e and "nvidia-uvm" not in e]
        evidence.append("running under WSL2")
    elif report.host.container:
        fix.insert(0, "Run this on the host (the container inherits its modules):")
    yield Hit(
        title=None
        if uvm_missing
        else "cuInit fails with CUDA_ERROR_UNKNOWN (999), often after suspend/resume",
        evidence=tuple(evidence),
        fix=tuple(fix),
    )


@rule(
    "GD-CUDA-003",
    area="cuda",
    severity=Severity.ERROR,
    title="The libcuda in use does not match the kernel driver (CUDA error 803/804)",
    why="`system has unsupported display driver / cuda driver combination` (803): the "
    "`libcuda` that was loaded comes from another driver release than the kernel module: a "
    "`cuda-compat` forward-compatibility copy, a copy inside a conda env, or a driver updated "
    "without a reboot. 804 means forward compatibility is not supported on this GPU "
    "(GeForce and most workstation cards).",
    fix="Remove the extra libcuda from the library path (`/usr/local/cuda/compat`, a conda "
    "`cuda-compat` package); after a driver update, reboot (under WSL2: `wsl --shutdown` in "
    "PowerShell, or restart Windows).",
    sources=(
        "NVIDIA/nvidia-docker#1256",
        "CompVis/stable-diffusion#439",
        "https://docs.nvidia.com/deploy/cuda-compatibility/ (forward compatibility, errors 803 "
        "and 804)",
    ),
)
def driver_mismatch(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    code = report.cuda.cu_init_result
    if code not in (CU_SYSTEM_DRIVER_MISMATCH, CU_COMPAT_NOT_SUPPORTED):
        return
    evidence = [cu_init_text(report)]
    if report.cuda.libcuda_path:
        libv = _libcuda_version(report)
        evidence.append(
            f"libcuda: {report.cuda.libcuda_path}" + (f" (driver {libv})" if libv else "")
        )
    if report.driver.module_version:
        evidence.append(f"kernel module: {report.driver.module_version}")
    title = None
    if code == CU_COMPAT_NOT_SUPPORTED:
        title = "A forward-compatibility libcuda is loaded on a GPU that does not support it (804)"
    after_update = (
        WSL_RESTART
        if report.host.wsl
        else on_the_host(report, ("After a driver update: $ sudo reboot",))
    )
    yield Hit(
        title=title,
        evidence=tuple(evidence),
        fix=(
            "Remove cuda-compat and other libcuda copies from LD_LIBRARY_PATH and the env:",
            "$ ldconfig -p | grep libcuda.so.1",
            "$ conda remove cuda-compat   # if a conda env ships one",
            *after_update,
        ),
    )


@rule(
    "GD-CUDA-004",
    area="cuda",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="CUDA finds no usable GPU (CUDA_ERROR_NO_DEVICE / INVALID_DEVICE)",
    why="cuInit succeeded in loading the driver but found no device it may use. Usual causes: "
    "`CUDA_VISIBLE_DEVICES` empty or invalid; a container without `--gpus`; MIG on without "
    "instances; under WSL2 a Windows driver too old for WSL or a Linux libcuda shadowing the "
    "Windows one; a device cgroup or security module that refuses the device files "
    "(GD-NVML-011 to GD-NVML-013, named in the finding); a driver that took no GPU (nouveau, "
    "a module that cannot drive it, every GPU bound to a passthrough driver: GD-DRV-002, "
    "GD-DRV-007 to GD-DRV-009, GD-DRV-011, named in the finding). Where the admin excluded "
    "every GPU the driver owns with its `NVreg_ExcludedGpus` parameter (as NVML names them, "
    "GD-GPU-070), nothing is broken: the finding says so, as a warning, since no GPU work "
    "runs here.",
    fix="Follow the host, GPU or WSL finding that names the cause; check "
    "`CUDA_VISIBLE_DEVICES` and `nvidia-smi -L`.",
    sources=(
        "https://docs.nvidia.com/cuda/cuda-driver-api/ (CUDA_ERROR_NO_DEVICE, "
        "CUDA_ERROR_INVALID_DEVICE)",
        "conda/conda#11667",
        "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars",
    ),
)
def no_device(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.cuda.cu_init_result not in (CU_NO_DEVICE, CU_INVALID_DEVICE):
        return
    if _not_applicable(report):
        return
    blocked = blocked_cuinit(report)
    if blocked is not None:  # the devices are there; this process may not open them
        yield blocked
        return
    evidence = [cu_init_text(report)]
    named = driver_line_cause(report, kb)
    if named is not None:  # the driver took no GPU: nvidia-smi -L would list nothing either
        evidence.append(f"the Kernel driver line says why: {named}")
        yield Hit(
            evidence=tuple(evidence),
            fix=(
                "Fix what the Kernel driver line names first; CUDA finds the GPU once the "
                "driver takes it.",
            ),
        )
        return
    if all_excluded(report):  # set aside on purpose: no GPU here for CUDA, nothing broken
        evidence.append(excluded_evidence(report, excluded_gpus(report)))
        yield Hit(
            severity=Severity.WARNING,
            title="CUDA finds no GPU: the admin excluded every GPU from the driver "
            "(NVreg_ExcludedGpus)",
            evidence=tuple(evidence),
            fix=(
                "Nothing, if they were set aside on purpose: use another machine for GPU work.",
                "To use one here, remove its UUID from NVreg_ExcludedGpus and reload the "
                "driver (or reboot):",
                "$ grep -rs ExcludedGpus /etc/modprobe.d/ /lib/modprobe.d/ /proc/cmdline",
            ),
        )
        return
    visible = env(report, "CUDA_VISIBLE_DEVICES")
    fix = ["$ nvidia-smi -L"]
    if visible is not None:
        evidence.append(f"CUDA_VISIBLE_DEVICES={visible!r}")
        fix.insert(0, "$ unset CUDA_VISIBLE_DEVICES")
    if report.host.wsl:
        evidence.append("running under WSL2")
        path = report.cuda.libcuda_path
        if path and not path.startswith("/usr/lib/wsl/"):  # a newer Windows driver would not help
            evidence.append(f"libcuda is {path}, not the Windows driver's (GD-HOST-005)")
            fix = ["Remove the Linux libcuda as the Host line's finding (GD-HOST-005) says."]
        else:
            fix += ["Update the Windows NVIDIA driver, then in PowerShell:", "> wsl --update"]
    if report.host.container:
        evidence.append(f"running in {a_container(report.host.container)}")
        fix += container_gpu_fix(report, kb) or docker_start(kb, report.host.container)
    if report.nvml.status == "ok":
        evidence.append(f"NVML lists {len(report.nvml.gpus)} GPU(s)")
    yield Hit(evidence=tuple(evidence), fix=tuple(fix))


@rule(
    "GD-CUDA-005",
    area="cuda",
    severity=Severity.ERROR,
    title="The CUDA driver API failed to initialise",
    why="A child process loaded libcuda and called `cuInit(0)`; it failed with an error that "
    "has no entry of its own. Known ones: 34 (`libcuda` is the toolkit's stub library, "
    "found through a `…/stubs` folder on `LD_LIBRARY_PATH`), 35 (driver older than "
    "libcuda), 304 (an OS call failed, often device-file permissions), 802 (the system is "
    "not ready: on an NVSwitch system Fabric Manager has not set up the fabric, GD-DRV-010).",
    fix='Read the error name and the evidence; `python -c "import ctypes; '
    "print(ctypes.CDLL('libcuda.so.1').cuInit(0))\"` reproduces the call.",
    sources=("https://docs.nvidia.com/cuda/cuda-driver-api/ (cuInit and its error codes)",),
)
def other_init_failure(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    cuda = report.cuda
    if _not_applicable(report):
        return
    known = (0, CU_UNKNOWN, CU_SYSTEM_DRIVER_MISMATCH, CU_COMPAT_NOT_SUPPORTED, CU_NO_DEVICE)
    if cuda.cu_init_result is not None and cuda.cu_init_result not in (*known, CU_INVALID_DEVICE):
        cause, fix = OTHER_CU_ERRORS.get(
            cuda.cu_init_result,
            ("an unusual error", "$ sudo dmesg | grep -iE 'nvidia|NVRM' | tail"),
        )
        evidence = [cu_init_text(report)]
        if cuda.libcuda_path:
            evidence.append(f"libcuda: {cuda.libcuda_path}")
        fixes: tuple[str, ...] = (fix,)
        if report.host.wsl and cuda.cu_init_result == 35:  # the driver is the Windows one
            fixes = (
                "Update the NVIDIA driver on Windows; remove other libcuda copies from the "
                "library path (GD-HOST-005).",
                *WSL_RESTART,
            )
        elif report.host.wsl and cuda.cu_init_result not in OTHER_CU_ERRORS:
            fixes = WSL_RESTART  # no dmesg of the Windows driver in WSL's kernel log
        yield Hit(
            title=f"cuInit failed: {cause}",
            evidence=tuple(evidence),
            fix=fixes,
        )
    elif cuda.status == "failed" and cuda.cu_init_result is None and not libcuda_missing(report):
        yield Hit(
            evidence=(f"CUDA probe: {cuda.message or 'failed'}",),
            fix=(f"$ {gpudoctor_start(report)} check --debug",),
        )


@rule(
    "GD-CUDA-006",
    area="cuda",
    severity=Severity.ERROR,
    title="cuInit did not return: the NVIDIA driver is probably wedged",
    why="The CUDA probe (a child that loads libcuda and calls `cuInit`) ran past its time "
    "limit. A healthy driver initialises in a few seconds; a wedged one (after an Xid error) "
    "blocks callers in the kernel until a reset.",
    fix="Look for Xid errors in `dmesg` and reboot; raise `--timeout` only if the machine is "
    "known to be slow. Under WSL2: `wsl --shutdown` in PowerShell, or restart Windows.",
    sources=(
        "NVIDIA/open-gpu-kernel-modules#507",
        "leptonai/gpud#117 (NVML and CUDA calls that hang)",
    ),
)
def cuda_timeout(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    if report.cuda.status != "timeout":
        return
    yield Hit(
        evidence=(f"CUDA probe: {report.cuda.message or 'timed out'}",),
        fix=WSL_RESTART if report.host.wsl else (xid_step(report), "$ sudo reboot"),
    )


@rule(
    "GD-CUDA-009",
    area="cuda",
    severity=Severity.WARNING,
    title="CUDA sees fewer GPUs than NVML",
    why="`cuDeviceGetCount` counts fewer GPUs than NVML lists, with no `CUDA_VISIBLE_DEVICES` "
    "and no MIG to explain it (lost GPUs are not counted): a device cgroup hides some device "
    "files, or some GPUs failed to initialise for CUDA.",
    fix="Compare `nvidia-smi -L` with `ls /dev/nvidia*`; in a container pass every GPU.",
    sources=(
        "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars "
        "(CUDA_VISIBLE_DEVICES)",
        "pytorch/pytorch#102715 (MIG: one device per process)",
    ),
)
def fewer_devices(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    cuda = report.cuda
    listed = [g for g in gpus(report) if not g.lost]
    if cuda.status != "ok" or cuda.device_count is None or not listed:
        return
    if env(report, "CUDA_VISIBLE_DEVICES") is not None or any(g.mig_enabled for g in listed):
        return
    if cuda.device_count < len(listed):
        yield Hit(
            evidence=(f"CUDA devices: {cuda.device_count}", f"NVML GPUs: {len(listed)}"),
            fix=("$ nvidia-smi -L", "$ ls -l /dev/nvidia*")
            if is_linux_host(report) or report.host.container
            else ("$ nvidia-smi -L",),
        )


@rule(
    "GD-CUDA-010",
    area="cuda",
    severity=Severity.INFO,
    title="The CUDA driver API was not checked",
    why="The CUDA probe was skipped (no NVIDIA driver to load, or the platform has no CUDA), "
    "so libcuda and `cuInit` were not tried. On a machine with no NVIDIA GPU (GD-DRV-001) "
    "it reads *not applicable*, and replaces the libcuda and `cuInit` errors "
    "(GD-CUDA-001, 002, 004, 005) that only repeat that there is no GPU; on macOS, which "
    "has no CUDA at all, it reads *CUDA not applicable on macOS*.",
    fix="Nothing to do unless you expected CUDA here.",
    marks_unchecked=True,
    sources=("https://docs.nvidia.com/cuda/cuda-driver-api/ (cuInit)",),
)
def not_checked(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    cuda = report.cuda
    if _not_applicable(report):
        evidence = [no_nvidia_evidence(report)]
        if cuda.libcuda_error:
            evidence.append(f"loader: {cuda.libcuda_error}")
        elif cuda.cu_init_result not in (None, 0):
            evidence.append(cu_init_text(report))
        yield Hit(title=f"CUDA {not_applicable_words(report)}", evidence=tuple(evidence))
    elif cuda.status == "skipped" and not libcuda_missing(report):
        yield Hit(evidence=(f"CUDA probe: {cuda.message or 'skipped'}",))
