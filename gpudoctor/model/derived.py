"""Facts derived from a report that several layers ask: is there an NVIDIA GPU here at all?"""

from __future__ import annotations

import functools
import re

from gpudoctor.model.report import FrameworkInfo, GpuInfo, PciFunction, Report, SlurmCluster
from gpudoctor.model.slurm import gpus_given


def gpus(report: Report) -> tuple[GpuInfo, ...]:
    """The GPUs NVML listed (lost ones included)."""
    return report.nvml.gpus if report.nvml.status == "ok" else ()


def a_container(runtime: str) -> str:
    """``a docker container``, ``an apptainer container`` (it read ``a apptainer``)."""
    return f"{'an' if runtime[:1].lower() in 'aeiou' else 'a'} {runtime} container"


def wsl_name(report: Report) -> str | None:
    """``WSL 1`` or ``WSL2`` (None outside WSL). WSL 1, which has no GPU support, is known by
    its kernel release ending ``-Microsoft`` (``4.4.0-19041-Microsoft``); WSL 2's reads
    ``...-microsoft-standard-WSL2`` (older ``4.19.128-microsoft-standard``)."""
    if not report.host.wsl:
        return None
    return "WSL 1" if (report.host.kernel or "").endswith("-Microsoft") else "WSL2"


NOT_APPLICABLE = "not applicable: no NVIDIA GPU"
"""What the NVML, GPU and CUDA lines say on a machine without an NVIDIA GPU."""

NOT_APPLICABLE_MACOS = "not applicable on macOS"
"""What they say on a Mac, which has no NVIDIA driver, NVML or CUDA at all."""


def not_applicable_words(report: Report) -> str:
    """:data:`NOT_APPLICABLE`, or :data:`NOT_APPLICABLE_MACOS` on a Mac."""
    return NOT_APPLICABLE_MACOS if report.host.os == "darwin" else NOT_APPLICABLE


def no_nvidia_evidence(report: Report) -> str:
    """Why an area is not applicable, as a not-applicable finding's evidence says it."""
    if report.host.os == "darwin":
        return "macOS has no NVIDIA driver, NVML or CUDA (GD-DRV-001)"
    return "no NVIDIA GPU on this machine (GD-DRV-001)"


def nvidia_traces(report: Report) -> tuple[str, ...]:
    """Signs of an NVIDIA GPU or its driver on this machine, in words (empty when none).

    A container sees the host's PCI bus and kernel modules in /sys, so these are signs of a
    GPU on the host even when the container was given no access to it.
    """
    drv, found = report.driver, []
    listed = gpus(report)
    if listed:
        found.append(f"NVML lists {len(listed)} GPU{'s' if len(listed) != 1 else ''}")
    found += [f"PCI {fn.address}: NVIDIA device {fn.device_id}" for fn in drv.pci_functions]
    if drv.module_version:
        found.append(f"nvidia kernel module {drv.module_version}")
    nodes = [n for n in drv.dev_nodes if n.startswith("/dev/nvidia")]
    if nodes:
        found.append(f"device files: {', '.join(nodes)}")
    if report.cuda.device_count:
        found.append(f"CUDA devices: {report.cuda.device_count}")
    return tuple(found)


def _any_trace(report: Report) -> bool:
    """Whether :func:`nvidia_traces` finds any, without putting them in words (rules ask this
    of every report)."""
    drv = report.driver
    return bool(
        gpus(report)
        or drv.pci_functions
        or drv.module_version
        or any(n.startswith("/dev/nvidia") for n in drv.dev_nodes)
        or report.cuda.device_count
    )


def node_gpu_count(report: Report) -> int:
    """GPUs the driver owns on this node, also those hidden from this job.

    ``/proc/driver/nvidia/gpus`` and the display-class NVIDIA functions bound to ``nvidia`` on
    the PCI bus: a job's device cgroup hides neither (NVML lists only the job's GPUs).
    """
    site = report.site
    from_proc = len(site.driver_gpus) if site else 0
    from_pci = sum(1 for fn in report.driver.pci_functions if owned_gpu_function(fn))
    return max(from_proc, from_pci)


def nvml_sees_the_node(report: Report, *, filter_aside: bool = False) -> bool:
    """NVML's count is the node's: it answered, in no job or one given no GPU, outside a
    container that NVIDIA's runtime or Kubernetes gives a share of the GPUs (Apptainer's
    ``--nv`` gives them all), where no cgroup v2 device filter may hide some
    (:func:`device_filter`). In a job given no GPU a device cgroup may still hide every GPU:
    NVML listing none there says nothing. ``filter_aside``: as if no such filter were there,
    for a caller that holds evidence of its own (an Xid 79 for the GPU) that a GPU is lost,
    not hidden."""
    if report.nvml.status != "ok":
        return False
    if report.host.container not in (None, "apptainer"):
        return False
    if not filter_aside and device_filter(report) is not None:
        return False
    job = report.site.slurm_job if report.site is not None else None
    return job is None or not gpus_given(job.gpu_variables)


_SLURM_JOB_CGROUP = re.compile(r"slurmstepd\.scope/job_(\d+)(?:/|$)")
"""SLURM's cgroup/v2 layout: ``/system.slice/slurmstepd.scope/job_42/step_0/user/task_0``
(``<node>_slurmstepd.scope`` with several slurmd on one host; ``step_extern`` for a login
pam_slurm_adopt put into the job)."""


def device_filter(report: Report) -> str | None:
    """Where a cgroup v2 device filter (an eBPF program nothing can list) may hide GPUs from
    NVML without the report showing whose share NVML lists, why, in words; None elsewhere.

    A SLURM job's cgroup (ConstrainDevices) whose environment names no job (a login that
    pam_slurm_adopt put into it, a scrubbed environment); in a job that names itself, the job
    variables say what it was given (:func:`nvml_sees_the_node`). A systemd system unit whose
    ``DevicePolicy=`` is ``closed`` or ``strict`` or that lists ``DeviceAllow=`` entries (a
    ``char-nvidia...`` entry allows every GPU), or whose policy systemctl did not give. A
    user's session, the root cgroup and a unit with ``DevicePolicy=auto`` and no entries
    filter nothing. Reports written before the cgroup path was recorded say nothing here."""
    access = report.device_access
    path = access.cgroup_path if access is not None else None
    if access is None or access.cgroup_version != "v2" or not path:
        return None
    job = _SLURM_JOB_CGROUP.search(path)
    if job is not None:
        if report.site is not None and report.site.slurm_job is not None:
            return None
        return (
            f"this process's cgroup is SLURM job {job.group(1)}'s ({path}), which its "
            "environment does not name: with ConstrainDevices the job's device filter shows "
            "NVML only the GPUs the job was given"
        )
    if not path.startswith("/system.slice/"):
        return None
    units = [p for p in path.split("/") if p.endswith((".service", ".scope"))]
    if not units:
        return None
    unit = units[-1]
    said = access.unit_devices
    if said is None:
        return (
            f"this process runs in systemd unit {unit}, whose device policy (DevicePolicy=, "
            "DeviceAllow=) systemctl did not give: its cgroup v2 device filter cannot be listed"
        )
    allowed = [ln.partition("=")[2] for ln in said if ln.startswith("DeviceAllow=")]
    policy = next((ln.partition("=")[2] for ln in said if ln.startswith("DevicePolicy=")), "")
    if any(a.startswith("char-nvidia") for a in allowed):
        return None  # every device of the nvidia driver's majors
    if not allowed and policy.strip() not in ("closed", "strict"):
        return None
    return (
        f"systemd unit {unit} ({'; '.join(said)}): its cgroup v2 device filter shows NVML "
        "only the devices it allows"
    )


def missing_from_nvml(report: Report) -> list[str]:
    """PCI addresses of GPUs bound to the nvidia driver (the PCI bus) or in its own list
    (/proc/driver/nvidia/gpus) that NVML does not list. A function on the bus of a GPU NVML
    lists is left out: an SR-IOV virtual function of it, not a GPU of its own; so is a GPU the
    bus shows bound to another driver (vfio-pci, pci-stub, none)."""
    seen = {pci_address(g.pci_bus_id) for g in gpus(report) if g.pci_bus_id}
    seen_buses = {parts[:2] for parts in map(pci_parts, seen) if parts is not None}
    others = {
        pci_address(fn.address) for fn in report.driver.pci_functions if fn.driver != "nvidia"
    }
    found = [fn.address for fn in report.driver.pci_functions if owned_gpu_function(fn)]
    if report.site is not None:
        found += report.site.driver_gpus
    missing: dict[str, str] = {}
    for address in found:
        key = pci_address(address)
        parts = pci_parts(key)  # the domain spelled out: 0000 where the text had none
        if key in seen or key in others or (parts is not None and parts[:2] in seen_buses):
            continue
        missing.setdefault(key, address)
    return sorted(missing.values(), key=pci_address)


def excluded_gpus(report: Report) -> list[str]:
    """PCI addresses (``dddd:bb:dd.f``) of the GPUs the driver excluded on purpose
    (``NVreg_ExcludedGpus``), as NVML names them; empty where NVML could not say."""
    excluded = report.nvml.excluded_gpus if report.nvml.status == "ok" else None
    return sorted({pci_address(g.pci_bus_id) for g in excluded or () if g.pci_bus_id})


def all_excluded(report: Report) -> bool:
    """True where the driver owns GPUs and excluded every one of them on purpose
    (``NVreg_ExcludedGpus``, as NVML names them): NVML listing none is the admin's doing."""
    excluded = set(excluded_gpus(report))
    owned = {
        pci_address(fn.address) for fn in report.driver.pci_functions if owned_gpu_function(fn)
    }
    if report.site is not None:
        owned |= {pci_address(a) for a in report.site.driver_gpus}
    return bool(excluded) and bool(owned) and owned <= excluded


def owned_gpu_function(fn: PciFunction) -> bool:
    """A GPU's display function bound to the nvidia driver (not vfio-pci, nouveau or none)."""
    return fn.driver == "nvidia" and is_gpu_function(fn)


def pci_bus_unreadable(report: Report) -> bool:
    """True when the kernel-driver probe recorded that it could not list the PCI bus."""
    return any(
        e.field == "driver" or e.field.startswith("driver.pci") for e in report.driver.errors
    )


def no_nvidia_gpu(report: Report) -> bool:
    """True when this Linux machine (or the host of this container) has no NVIDIA GPU.

    Nothing NVIDIA on a PCI bus that could be read, no nvidia kernel module, no /dev/nvidia*
    and NVML lists no GPU. A container sees its host's PCI bus and modules in /sys, so this
    answers for the host; ``NVIDIA_VISIBLE_DEVICES`` changes nothing (NVIDIA's CUDA images
    set it themselves, on a machine without a GPU too). Windows, WSL2 and macOS are never
    answered here: their driver is not visible through /sys.
    """
    host = report.host
    return not (host.os != "linux" or host.wsl or _any_trace(report) or pci_bus_unreadable(report))


OTHER_GPU_MAKERS = {"rocm": "AMD", "xpu": "Intel"}
"""The Linux backends of builds for other GPUs than NVIDIA's, and whose GPUs each drives."""


def other_gpu_builds(report: Report) -> tuple[FrameworkInfo, ...]:
    """The frameworks that use GPUs other than NVIDIA's here: a ROCm build that lists AMD GPUs
    (through ``torch.cuda``) or an XPU build that lists Intel GPUs. Their GPUs are no sign of
    an NVIDIA GPU or driver."""
    return tuple(
        fw
        for fw in report.frameworks
        if fw.status == "ok" and fw.gpu_backend in OTHER_GPU_MAKERS and fw.gpu_backend_devices
    )


def windows_shows_no_nvidia(report: Report) -> bool:
    """Native Windows with no sign of an NVIDIA driver or GPU: no nvml.dll, no nvcuda.dll that
    counted a device, no framework that sees a GPU. Windows shows gpudoctor no PCI bus, so
    whether the PC has an NVIDIA GPU without its driver cannot be told: most such PCs have
    none (a laptop with Intel or AMD graphics)."""
    host = report.host
    if host.os != "windows" or host.wsl or report.nvml.status != "library_not_found":
        return False
    if report.cuda.device_count or report.cuda.libcuda_path:
        return False
    return not any(
        fw.status == "ok" and (fw.cuda_available or fw.device_count) for fw in report.frameworks
    )


_NVML_NOT_APPLICABLE = ("library_not_found", "driver_not_loaded", "bindings_missing")
"""NVML outcomes that only say the driver is absent: expected where there is no GPU."""


def not_applicable(report: Report, area: str) -> bool:
    """True when the ``nvml``, ``gpu`` or ``cuda`` area only repeats that there is no GPU
    (or, on macOS, that there is no NVIDIA driver or CUDA at all).

    A probe that hung is still reported: hanging is not how a missing driver behaves.
    """
    if report.host.os == "darwin":
        if area == "nvml":
            return report.nvml.status in _NVML_NOT_APPLICABLE
        if area == "cuda":
            return report.cuda.status != "timeout" and not report.cuda.device_count
        return area == "gpu" and not gpus(report)
    if not no_nvidia_gpu(report):
        return False
    if area == "nvml":
        return report.nvml.status in _NVML_NOT_APPLICABLE
    if area == "cuda":
        return report.cuda.status != "timeout"
    return area == "gpu"


def env(report: Report, name: str) -> str | None:
    """An environment variable as the host probe saw it (None when unset)."""
    return report.host.env.get(name)


def set_aside_for_vm(driver: str | None) -> bool:
    """True for a passthrough or stub driver (``vfio-pci``, ``nvgrace-gpu-vfio-pci``, any
    ``vfio`` variant, ``pci-stub``): it holds the GPU for a virtual machine, not this host."""
    return driver is not None and ("vfio" in driver or driver == "pci-stub")


def is_gpu_function(fn: PciFunction) -> bool:
    """Display or 3D controllers (PCI class 0x03xxxx), not the GPU's audio or USB functions."""
    return _display_class(fn.class_code)


@functools.lru_cache(maxsize=256)  # a handful of class codes, asked of every function
def _display_class(class_code: str) -> bool:
    return class_code.lower().removeprefix("0x").startswith("03")


def module_flavour(proc_version_line: str | None) -> str | None:
    """``open`` or ``proprietary`` from the first line of /proc/driver/nvidia/version: the open
    GPU kernel modules say ``NVIDIA UNIX Open Kernel Module``, the proprietary ones ``NVIDIA
    UNIX x86_64 Kernel Module``; None when there is no such line."""
    line = (proc_version_line or "").lower()
    if "open kernel module" in line:
        return "open"
    return "proprietary" if "kernel module" in line else None


def flavour_of_licence(licence: str | None) -> str | None:
    """``modinfo``'s licence of nvidia.ko: ``Dual MIT/GPL`` is the open modules, ``NVIDIA``
    the proprietary one."""
    text = (licence or "").strip().lower()
    if not text:
        return None
    return "open" if "mit" in text or "gpl" in text else "proprietary"


def loaded_module_flavour(report: Report) -> str | None:
    """The flavour of the loaded nvidia module: as recorded, else read from the version line
    (reports written before the fact was recorded)."""
    drv = report.driver
    return drv.module_flavour or module_flavour(drv.proc_version_line)


def slurm_login_node(report: Report) -> bool:
    """True on a login node of a SLURM cluster: sinfo answered, no GPU here, not in a job."""
    site = report.site
    return (
        site is not None
        and site.slurm is not None
        and site.slurm.reachable
        and site.slurm_job is None
        and no_nvidia_gpu(report)
    )


SLURM_NOT_CONFIGURED = re.compile(
    r"Could not establish a configuration source|slurm\.conf|s_p_parse_file", re.IGNORECASE
)
"""What sinfo says when this machine has no SLURM configuration at all (no slurm.conf, no
configless DNS SRV record): the commands are installed, but no controller was ever asked."""


def slurm_not_configured(cluster: SlurmCluster | None) -> bool:
    """True where SLURM's commands are here but sinfo found no configuration at all
    (:data:`SLURM_NOT_CONFIGURED`): no cluster, so no login node, and nothing to wait for."""
    return (
        cluster is not None
        and not cluster.reachable
        and bool(SLURM_NOT_CONFIGURED.search(cluster.message or ""))
    )


def slurm_unanswered(report: Report) -> bool:
    """True where a login node may be but SLURM could not say: SLURM is configured here, its
    controller did not answer sinfo, no GPU here, not in a job."""
    site = report.site
    return (
        site is not None
        and site.slurm is not None
        and not site.slurm.reachable
        and not slurm_not_configured(site.slurm)
        and site.slurm_job is None
        and no_nvidia_gpu(report)
    )


def pci_parts(address: str | None) -> tuple[int | None, int, int, int] | None:
    """(domain, bus, device, function) of a PCI address in any spelling NVML, /sys or the
    kernel log uses (``00000009:01:00.0``, ``0009:01:00.0``, ``0000:17:00``, ``17:00.0``),
    numbers as numbers; the domain None where the text has none, a missing function 0; None
    for text that is no address. The domain counts: a GB200 node's GPUs are 0008:01:00.0,
    0009:01:00.0, ... (bus 01 of each domain)."""
    if not address:
        return None
    head, _, function = address.strip().lower().partition(".")
    try:
        numbers = [int(p, 16) for p in head.split(":")]
        fn = int(function or "0", 16)
    except ValueError:
        return None
    if len(numbers) == 2:
        return None, numbers[0], numbers[1], fn
    if len(numbers) == 3:
        return numbers[0], numbers[1], numbers[2], fn
    return None


def same_device(logged: str | None, address: str) -> bool:
    """Whether a kernel log's ``0000:08:00`` (no function) names the device at ``address``:
    domain, bus and device alike, a missing domain read as 0."""
    a, b = pci_parts(logged), pci_parts(address)
    return a is not None and b is not None and (a[0] or 0, *a[1:3]) == (b[0] or 0, *b[1:3])


@functools.lru_cache(maxsize=4096)  # asked of every GPU of every node, by several rules
def pci_address(address: str) -> str:
    """``dddd:bb:dd.f`` of a PCI address in any spelling (:func:`pci_parts`), a missing domain
    read as 0; text that is no address comes back lower-cased."""
    parts = pci_parts(address)
    if parts is None:
        return address.strip().lower()
    domain, bus, device, fn = parts
    return f"{domain or 0:04x}:{bus:02x}:{device:02x}.{fn:x}"
