"""Kernel-driver probe: what /proc, /sys and /dev say about NVIDIA, with no library loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

from gpudoctor.model.derived import flavour_of_licence, module_flavour
from gpudoctor.model.report import FabricManagerInfo, KernelDriverInfo, PciFunction, Unavailable
from gpudoctor.probe.base import ProbeContext

NVIDIA_VENDOR = "0x10de"
NVSWITCH_CLASS = "0x0680"
"""PCI class "bridge, other": how NVSwitches on HGX/DGX boards show up under vendor 10de."""
FABRIC_MANAGER = "nvidia-fabricmanager"
FM_COMM = "nv-fabricmanage"
"""The daemon ``nv-fabricmanager`` as /proc/PID/comm shows it (cut to 15 characters)."""
FM_TIMEOUT_S = 3.0
MODINFO_TIMEOUT_S = 3.0


def installed_module(ctx: ProbeContext) -> tuple[str | None, str | None]:
    """The flavour and version of the nvidia module installed for the running kernel, from
    ``modinfo nvidia`` (read from the module file: it works when the module did not load)."""
    path = ctx.env.get("PATH")
    # modinfo lives in /sbin or /usr/sbin, which a user's PATH often lacks
    binary = shutil.which("modinfo", path=f"{path}:/usr/sbin:/sbin") if path else None
    if binary is None:
        return None, None
    result = ctx.run([binary, "nvidia"], timeout_s=MODINFO_TIMEOUT_S, env=ctx.env)
    if not result.ok:
        return None, None
    fields: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return flavour_of_licence(fields.get("license")), fields.get("version") or None


def parse_proc_version(text: str | None) -> tuple[str | None, str | None]:
    """The first line of ``/proc/driver/nvidia/version`` and the module version in it.

    ``NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 ...``: fields are
    separated by two spaces and the version is the second one (uv reads it the same way).
    """
    lines = (text or "").strip().splitlines()
    if not lines:
        return None, None
    line = lines[0].strip()
    fields = [f.strip() for f in line.split("  ") if f.strip()]
    version = fields[1] if len(fields) > 1 and fields[1][:1].isdigit() else None
    return line, version


EXCLUDING_PARAMS = ("ExcludedGpus", "GpuBlacklist")
"""The driver's parameters that exclude GPUs by UUID (``GpuBlacklist`` is the deprecated name
of ``ExcludedGpus``; kernel-open/nvidia/nv-reg.h)."""


def parse_excluded_gpus(text: str | None) -> tuple[str, ...] | None:
    """The UUIDs ``/proc/driver/nvidia/params`` lists as excluded; None without the file.

    The driver writes ``ExcludedGpus: "GPU-uuid,GPU-uuid"`` (``""`` when none), one
    parameter a line (kernel-open/nvidia/nv-procfs.c); each GPU is a full UUID with its
    leading ``GPU-``, separated by commas (nv-reg.h).
    """
    if text is None:
        return None
    found: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep or key.strip() not in EXCLUDING_PARAMS:
            continue
        for part in value.strip().strip('"').split(","):
            uuid = part.strip()
            if uuid and uuid not in found:
                found.append(uuid)
    return tuple(found)


def pci_functions(ctx: ProbeContext, class_prefix: str = "0x03") -> tuple[PciFunction, ...] | None:
    """Every NVIDIA PCI function of a class (display by default) and the driver bound to it.

    None when the PCI bus cannot be listed at all: that is "unknown", not "no GPU".
    """
    root = ctx.path("/sys/bus/pci/devices")
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return None
    found = []
    for dev in entries:
        vendor = _read(dev / "vendor")
        class_code = _read(dev / "class")
        if vendor != NVIDIA_VENDOR or not class_code or not class_code.startswith(class_prefix):
            continue
        try:
            driver: str | None = (dev / "driver").readlink().name
        except OSError:
            driver = None  # no driver bound: the link is absent
        found.append(
            PciFunction(
                address=dev.name,
                device_id=_read(dev / "device") or "unknown",
                class_code=class_code,
                driver=driver,
            )
        )
    return tuple(found)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip().lower()
    except OSError:
        return None


def _fm_process_running(ctx: ProbeContext) -> bool | None:
    """Whether an ``nv-fabricmanager`` process is in /proc (None when /proc cannot be listed)."""
    try:
        pids = [p for p in ctx.path("/proc").iterdir() if p.name.isdigit()]
    except OSError:
        return None
    return any((ctx.read_text(f"/proc/{p.name}/comm") or "").strip() == FM_COMM for p in pids)


def fabric_manager(ctx: ProbeContext) -> FabricManagerInfo:
    """Whether Fabric Manager runs (its process, else systemd) and its version."""
    running, how = _fm_process_running(ctx), "/proc/*/comm"
    if not running and shutil.which("systemctl", path=ctx.env.get("PATH")):
        result = ctx.run(
            ["systemctl", "is-active", FABRIC_MANAGER], timeout_s=FM_TIMEOUT_S, env=ctx.env
        )
        state = result.stdout.strip()
        if state:  # active, inactive, failed, activating; empty when systemd is not running
            running, how = state == "active", f"systemctl is-active {FABRIC_MANAGER}: {state}"
    version = None
    binary = shutil.which("nv-fabricmanager", path=ctx.env.get("PATH"))
    if binary:
        result = ctx.run([binary, "--version"], timeout_s=FM_TIMEOUT_S, env=ctx.env)
        words = [w.strip(" ,") for w in result.stdout.split()]
        version = next((w for w in words if w[:1].isdigit() and "." in w), None)
    return FabricManagerInfo(running=running, version=version, how=how)


def dev_nodes(ctx: ProbeContext) -> tuple[str, ...]:
    try:
        return tuple(sorted(f"/dev/{p.name}" for p in ctx.path("/dev").glob("nvidia*")))
    except OSError:
        return ()


def probe_kernel_driver(ctx: ProbeContext) -> KernelDriverInfo:
    """Module versions, PCI functions, device nodes and loaded modules; never loads NVML."""
    if not ctx.path("/proc").is_dir() and not ctx.path("/sys").is_dir():
        return KernelDriverInfo(
            errors=(
                Unavailable(
                    field="driver",
                    code="unsupported_os",
                    message="no /proc or /sys here; the driver is read through NVML only",
                ),
            )
        )
    line, proc_version = parse_proc_version(ctx.read_text("/proc/driver/nvidia/version"))
    sys_version = (ctx.read_text("/sys/module/nvidia/version") or "").strip() or None
    errors = []
    if line is None and sys_version is None:
        errors.append(
            Unavailable(
                field="driver.module_version",
                code="not_found",
                message="/proc/driver/nvidia/version and /sys/module/nvidia/version are absent: "
                "the nvidia kernel module is not loaded (or not visible in this container)",
            )
        )
    functions = pci_functions(ctx)
    if functions is None:
        errors.append(
            Unavailable(
                field="driver.pci_functions",
                code="not_visible",
                message="/sys/bus/pci/devices cannot be listed: the PCI bus is not visible here",
            )
        )
    modules = ctx.path("/sys/module")
    has_modules = modules.is_dir()
    switches = pci_functions(ctx, NVSWITCH_CLASS) or ()
    flavour, installed = module_flavour(line), None
    if (
        line is None
        and sys_version is None
        and any(f.class_code.startswith("0x03") for f in functions or ())
    ):
        flavour, installed = installed_module(ctx)  # a GPU, no module: what would load?
    return KernelDriverInfo(
        module_version=sys_version or proc_version,
        proc_version_line=line,
        module_flavour=flavour,
        installed_module_version=installed,
        pci_functions=functions or (),
        nvswitches=switches,
        fabric_manager=fabric_manager(ctx) if switches else None,
        dev_nodes=dev_nodes(ctx),
        uvm_loaded=(modules / "nvidia_uvm").is_dir() if has_modules else None,
        nouveau_loaded=(modules / "nouveau").is_dir() if has_modules else None,
        excluded_gpus=parse_excluded_gpus(ctx.read_text("/proc/driver/nvidia/params")),
        errors=tuple(errors),
    )
