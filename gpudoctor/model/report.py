"""The system report: everything the probes learned about the host, as frozen data."""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = 1
"""Version of the JSON form of :class:`Report`; bump it on any incompatible change."""
CHECK_TOOL = "gpudoctor check"
"""The ``tool`` of a check report, as every JSON document of gpudoctor names its writer."""


@dataclass(frozen=True, kw_only=True)
class Unavailable:
    """A fact a probe tried to read and could not, with why."""

    field: str
    """The fact that is missing, e.g. ``gpu[1].power_draw_w`` or ``nvml.init``."""
    code: str
    """A short machine-readable cause, e.g. ``not_supported``, ``gpu_is_lost``, ``timeout``."""
    message: str
    """What went wrong, in words."""


@dataclass(frozen=True, kw_only=True)
class ProbeRun:
    """How one probe ran: its outcome and its cost."""

    name: str
    status: str
    """``ok``, ``failed``, ``timeout`` (the child was killed) or ``skipped``."""
    duration_s: float
    message: str = ""


# --- host -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PythonInfo:
    """The interpreter gpudoctor inspected (its own, or the one given with ``--python``)."""

    version: str
    executable: str
    implementation: str = "CPython"
    env_kind: str = "system"
    """``venv``, ``conda`` or ``system``."""
    env_prefix: str | None = None
    env_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class HostInfo:
    """The operating system, CPU, memory, Python, container and the variables that matter."""

    hostname: str
    os: str
    """``linux``, ``windows`` or ``darwin``."""
    os_release: str | None = None
    """A pretty name such as ``Ubuntu 22.04.5 LTS``."""
    kernel: str | None = None
    arch: str
    """``x86_64`` or ``aarch64``."""
    cpu_model: str | None = None
    cpu_count: int | None = None
    memory_total_mib: int | None = None
    python: PythonInfo
    gpudoctor_command: tuple[str, ...] | None = None
    """How a command pasted here starts this gpudoctor: ``["gpudoctor"]`` where that is on
    PATH, else its interpreter with ``-m gpudoctor`` (run as ``python -m gpudoctor`` from a
    venv not on PATH, where a bare ``gpudoctor`` in a fix failed: 'command not found'). The
    fixes print it; None in reports written before 2026-12-08 (they print ``gpudoctor``)."""
    container: str | None = None
    """``docker``, ``podman``, ``apptainer`` (also Singularity), ``kubernetes``, ``container``
    (other) or None."""
    wsl: bool = False
    dxg: bool | None = None
    """Whether ``/dev/dxg``, WSL2's GPU paravirtualisation device, exists: a WSL 2
    distribution has it, a container under WSL2 only when it was started with the GPU
    (``--gpus``; NVIDIA's container runtime passes it there instead of ``/dev/nvidia*``).
    None outside WSL and in reports written before 2026-12-08."""
    wsl_libcuda: str | None = None
    """The Windows driver's ``libcuda`` under ``/usr/lib/wsl`` (``/usr/lib/wsl/lib/libcuda.so.1``,
    or ``libcuda.so.1.1`` in its driver-store folder under ``/usr/lib/wsl/drivers``, which
    NVIDIA's container runtime mounts into a container), None where there is none, outside WSL
    and in reports written before 2026-12-08."""
    glibc: str | None = None
    cpu_flags: tuple[str, ...] | None = None
    """The instruction-set extensions framework builds need (``avx``, ``avx2``, ``fma``,
    ``avx512f`` ...) that ``/proc/cpuinfo`` lists, of a fixed set (gpudoctor.probe.host.CPU_FLAGS);
    None where it could not be read (not Linux) and in reports written before 2026-12-07."""
    env: dict[str, str] = field(default_factory=dict)
    """The environment variables that matter to CUDA, only those that are set."""
    errors: tuple[Unavailable, ...] = ()


# --- kernel driver --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PciFunction:
    """One NVIDIA PCI function and the kernel driver bound to it."""

    address: str
    device_id: str
    class_code: str
    driver: str | None
    """``nvidia``, ``nouveau``, ``vfio-pci``, or None when no driver is bound."""


@dataclass(frozen=True, kw_only=True)
class FabricManagerInfo:
    """NVIDIA Fabric Manager, which NVSwitch systems need running before CUDA can start."""

    running: bool | None = None
    """None when it could not be told (no systemctl, no access)."""
    version: str | None = None
    """``nv-fabricmanager --version``; it must equal the driver version."""
    how: str = ""
    """How it was read, e.g. ``systemctl is-active nvidia-fabricmanager``."""


@dataclass(frozen=True, kw_only=True)
class KernelDriverInfo:
    """What the kernel says about the NVIDIA driver, read without loading any library."""

    module_version: str | None = None
    """From ``/sys/module/nvidia/version`` or ``/proc/driver/nvidia/version``."""
    proc_version_line: str | None = None
    module_flavour: str | None = None
    """``open`` (NVIDIA's open GPU kernel modules) or ``proprietary``: of the loaded module,
    from the version line; else of the installed one, from ``modinfo`` (its licence)."""
    installed_module_version: str | None = None
    """``modinfo nvidia``'s version when the module is not loaded (a driver that took no GPU
    fails to load)."""
    pci_functions: tuple[PciFunction, ...] = ()
    nvswitches: tuple[PciFunction, ...] = ()
    """NVIDIA NVSwitch bridges (PCI class 0x0680) on HGX/DGX boards."""
    fabric_manager: FabricManagerInfo | None = None
    """Read only where there are NVSwitches."""
    dev_nodes: tuple[str, ...] = ()
    uvm_loaded: bool | None = None
    nouveau_loaded: bool | None = None
    excluded_gpus: tuple[str, ...] | None = None
    """The GPU UUIDs (``GPU-...``) the driver's ``NVreg_ExcludedGpus`` parameter (or its
    deprecated name ``NVreg_GpuBlacklist``) excludes on purpose, from
    ``/proc/driver/nvidia/params``; empty when it names none; None where the file was not
    read (no module loaded) and in reports written before 2026-12-08."""
    errors: tuple[Unavailable, ...] = ()


# --- what the hardware went through: kernel log, InfiniBand, IOMMU ---------------------------


@dataclass(frozen=True, kw_only=True)
class XidEvent:
    """One NVIDIA Xid (GPU) or SXid (NVSwitch) line of the kernel log, parsed."""

    kind: str
    """``xid`` (``NVRM: Xid``) or ``sxid`` (``nvidia-nvswitchN: SXid``)."""
    code: int
    pci: str | None = None
    """The PCI address as the driver logged it (``0000:9b:00``)."""
    time: str | None = None
    """ISO 8601, UTC; null where the log line carried no usable time."""
    pid: int | None = None
    process: str | None = None
    message: str = ""
    """The rest of the line, cut to 300 characters; kept as data (rendered inert)."""


@dataclass(frozen=True, kw_only=True)
class XidCount:
    """How often one Xid or SXid came from one device in the look-back window."""

    kind: str
    code: int
    pci: str | None = None
    count: int
    first: str | None = None
    last: str | None = None
    last_message: str = ""


@dataclass(frozen=True, kw_only=True)
class InitFailure:
    """A GPU the driver failed to start (NVRM's ``RmInitAdapter failed!`` and
    ``rm_init_adapter failed`` lines) in the look-back window, per PCI address."""

    pci: str | None = None
    """As the line names it (``0000:0a:00.0``); None where it names none (older drivers)."""
    count: int
    """Its lines; the driver prints both for one failure, and tries again at each open."""
    first: str | None = None
    last: str | None = None
    last_message: str = ""
    """The last ``RmInitAdapter failed! (0x24:0x72:1568)`` line's text after the address."""


@dataclass(frozen=True, kw_only=True)
class KernelLogInfo:
    """The NVIDIA lines of the kernel log in the look-back window, read without root if allowed."""

    status: str
    """``ok``, ``unreadable`` (no permission on any source) or ``unsupported`` (not Linux)."""
    source: str | None = None
    """``/dev/kmsg``, ``journalctl`` or ``dmesg``: the first one that could be read;
    ``/dev/kmsg+journalctl`` when the ring buffer no longer held the whole window and the
    journal's lines from before it were added."""
    since: str | None = None
    """The start of the look-back window (ISO 8601, UTC)."""
    window_h: float | None = None
    """The look-back window in hours (``check --since``; 72 by default)."""
    covered_from: str | None = None
    """The oldest line the source still held: ``/dev/kmsg`` and ``dmesg`` hold the current
    boot only, and their ring buffer may have dropped older lines."""
    boot_time: str | None = None
    """When this boot began (now minus ``/proc/uptime``): a reboot-type Xid logged before it
    was followed by a reboot already."""
    lines_read: int = 0
    bytes_read: int = 0
    truncated: bool = False
    """True when reading stopped at its byte or time bound: counts are lower bounds."""
    counts: tuple[XidCount, ...] = ()
    events: tuple[XidEvent, ...] = ()
    init_failures: tuple[InitFailure, ...] | None = None
    """The GPUs the driver failed to start in the window (``RmInitAdapter failed``), at most
    32 addresses; empty when none; None in reports written before 2026-12-08."""
    """The newest events (at most 100); ``counts`` has them all."""
    message: str = ""
    """Why no source could be read, one line per source tried."""


@dataclass(frozen=True, kw_only=True)
class IbPort:
    """One InfiniBand or RoCE port from ``/sys/class/infiniband/*/ports/*``."""

    device: str
    """``mlx5_0``."""
    port: int
    state: str | None = None
    """``ACTIVE``, ``DOWN``, ``INIT``, ``ARMED``."""
    phys_state: str | None = None
    """``LinkUp``, ``Disabled``, ``Polling``, ``LinkErrorRecovery``."""
    rate: str | None = None
    """As the kernel writes it: ``400 Gb/sec (4X NDR)``."""
    rate_gbps: float | None = None
    """The rate in gigabits per second, as ``rate`` says it (400 for ``400 Gb/sec``): Gb/s,
    not the GB/s of verify's and fleet pairs' ``*_gbps`` bandwidths."""
    link_layer: str | None = None
    """``InfiniBand`` or ``Ethernet`` (RoCE)."""
    link_downed: int | None = None
    """``counters/link_downed``: times the link went down (since the counters were cleared)."""
    symbol_error: int | None = None
    link_error_recovery: int | None = None
    hca_type: str | None = None
    """The device's ``hca_type`` (mlx5: the chip, ``MT4129`` for a ConnectX-7); null where the
    driver writes none, and in reports written before 2026-12-08."""
    board_id: str | None = None
    """The device's ``board_id`` (mlx5: the card's PSID, ``MT_0000000838``): ports are compared
    for their rate only with ports of the same card model."""


P2P_REDIRECT_BITS = frozenset({"ReqRedir", "CmpltRedir", "EgressCtrl"})
"""PCI_ACS_RR, PCI_ACS_CR and PCI_ACS_EC: the bits Linux's ``pci=disable_acs_redir=`` clears."""


@dataclass(frozen=True, kw_only=True)
class PcieBridgeAcs:
    """One PCI bridge above NVIDIA GPUs (root port or switch port) and its PCIe ACS settings.

    ACS (Access Control Services) decides whether peer-to-peer traffic may cross the bridge
    directly or is redirected up to the CPU's root complex; read from the bridge's ``config``
    file in /sys."""

    bridge: str
    """Its PCI address, ``0000:03:08.0``."""
    gpus: tuple[str, ...] = ()
    """The NVIDIA GPUs below it, by PCI address."""
    root_port: bool | None = None
    """True for a bridge on the root bus (a root port: GPUs below different root ports meet
    only in the root complex), False for one below another bridge (a PCIe switch's port)."""
    status: str
    """``read`` (the ACS registers were read), ``absent`` (the bridge has no ACS capability,
    or no extended configuration space), ``needs_root`` (ACS sits in the extended
    configuration space, which the kernel shows only to root: an unprivileged read of
    ``config`` returns its first 64 bytes) or ``unreadable`` (no ``config`` file, or one
    whose capability list is broken)."""
    capability: int | None = None
    """The ACS Capability register (16 bits): what the bridge can do; null unless ``read``."""
    control: int | None = None
    """The ACS Control register (16 bits): what is switched on; null unless ``read``."""
    enabled: tuple[str, ...] = ()
    """The bits set in ``control``, named as ``lspci -vvv`` names them on its ``ACSCtl`` line:
    ``SrcValid``, ``TransBlk``, ``ReqRedir`` (P2P Request Redirect), ``CmpltRedir`` (P2P
    Completion Redirect), ``UpstreamFwd``, ``EgressCtrl`` (P2P Egress Control),
    ``DirectTrans``."""

    @property
    def redirects(self) -> tuple[str, ...]:
        """The enabled bits that send peer-to-peer traffic up to the root complex (or block
        it): those Linux clears to allow peer-to-peer (``pci_disable_acs_redir``)."""
        return tuple(name for name in self.enabled if name in P2P_REDIRECT_BITS)


@dataclass(frozen=True, kw_only=True)
class IommuInfo:
    """The IOMMU as /sys shows it, and the ACS settings of the PCI bridges above the GPUs.

    Both decide whether GPU peer-to-peer traffic crosses a PCIe switch directly or goes up
    through the CPU (translated DMA, redirected requests)."""

    groups: int | None = None
    """How many IOMMU groups exist (0: no IOMMU in use)."""
    gpu_groups: dict[str, str] = field(default_factory=dict)
    """GPU PCI address -> its IOMMU group's domain type (``identity`` = passthrough,
    ``DMA``/``DMA-FQ`` = translated, ``unknown`` where the kernel does not say)."""
    cmdline: tuple[str, ...] = ()
    """The IOMMU and ACS switches on the kernel command line (``iommu=pt``, ``intel_iommu=on``,
    ``pci=disable_acs_redir=...``)."""
    bridges: tuple[PcieBridgeAcs, ...] | None = None
    """Every PCI bridge between an NVIDIA GPU and the root complex, with its ACS settings,
    sorted by address (empty when the GPUs sit on the root bus, as in most virtual machines;
    null in reports written before ACS was read)."""
    acs_readable: bool | None = None
    """Whether the bridges' ACS could be read: True when their extended configuration space
    was readable (gpudoctor ran as root), False when it needs root, null when there was no
    bridge to read, when no bridge's ``config`` could be read at all (``unreadable``), or when
    the report predates the field."""


@dataclass(frozen=True, kw_only=True)
class HardwareInfo:
    """What the hardware went through and how it is set up: kernel log, InfiniBand, IOMMU."""

    kernel_log: KernelLogInfo | None = None
    ib_ports: tuple[IbPort, ...] = ()
    ib_expected_rate_gbps: float | None = None
    """The rate every port should run at, as the administrator gave it (``check --ib-rate``),
    in gigabits per second (Gb/s, as ``rate_gbps``)."""
    iommu: IommuInfo | None = None
    errors: tuple[Unavailable, ...] = ()


# --- NVML -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GpuProcess:
    """A compute process holding GPU memory."""

    pid: int
    name: str | None = None
    used_memory_mib: int | None = None


@dataclass(frozen=True, kw_only=True)
class MigDevice:
    """One MIG instance of a GPU."""

    index: int
    uuid: str | None = None
    name: str | None = None
    memory_total_mib: int | None = None


@dataclass(frozen=True, kw_only=True)
class NvLink:
    """One NVLink of a GPU: whether it is up, its version and its error counters."""

    link: int
    active: bool | None = None
    version: int | None = None
    """The NVLink generation (``nvmlDeviceGetNvLinkVersion``): 3 on A100, 4 on H100/H200."""
    crc_flit_errors: int | None = None
    """Flow-control CRC errors (``NVML_NVLINK_ERROR_DL_CRC_FLIT``); null where the driver
    does not count them."""
    crc_data_errors: int | None = None
    """Data CRC errors (``NVML_NVLINK_ERROR_DL_CRC_DATA``)."""
    replay_errors: int | None = None
    """Packets sent again after an error (``NVML_NVLINK_ERROR_DL_REPLAY``)."""
    recovery_errors: int | None = None
    """Times the link went down and was trained again (``NVML_NVLINK_ERROR_DL_RECOVERY``)."""
    speed_mbps: int | None = None
    """The link's speed in MBps (``NVML_FI_DEV_NVLINK_GET_SPEED``), kept where it is below the
    GPU's ``nvlink_speed_mbps``; null otherwise, where the driver does not say, and in reports
    written before 2026-12-07."""

    @property
    def error_total(self) -> int:
        """All counted errors of the link (0 where none were counted)."""
        # Plain additions: asked of every link of every GPU of every node in a fleet.
        return (
            (self.crc_flit_errors or 0)
            + (self.crc_data_errors or 0)
            + (self.replay_errors or 0)
            + (self.recovery_errors or 0)
        )


@dataclass(frozen=True, kw_only=True)
class GpuInfo:
    """One physical GPU as NVML reports it; a field is None when NVML could not say."""

    index: int
    name: str | None = None
    uuid: str | None = None
    serial: str | None = None
    pci_bus_id: str | None = None
    lost: bool = False
    """True when NVML could not get a handle to this GPU at all."""
    memory_total_mib: int | None = None
    memory_used_mib: int | None = None
    compute_capability: str | None = None
    """``major.minor``, e.g. ``9.0``."""
    architecture: str | None = None
    temperature_c: int | None = None
    power_draw_w: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: int | None = None
    sm_clock_max_mhz: int | None = None
    utilization_gpu_pct: int | None = None
    pcie_gen: int | None = None
    pcie_gen_max: int | None = None
    pcie_width: int | None = None
    pcie_width_max: int | None = None
    ecc_enabled: bool | None = None
    ecc_pending: bool | None = None
    ecc_uncorrected_volatile: int | None = None
    ecc_uncorrected_aggregate: int | None = None
    retired_pages_sbe: int | None = None
    retired_pages_dbe: int | None = None
    retired_pages_pending: bool | None = None
    remapped_rows_correctable: int | None = None
    remapped_rows_uncorrectable: int | None = None
    remap_pending: bool | None = None
    remap_failure: bool | None = None
    inforom_valid: bool | None = None
    persistence_mode: bool | None = None
    compute_mode: str | None = None
    """``default``, ``exclusive_process`` or ``prohibited``."""
    mig_enabled: bool | None = None
    mig_pending: bool | None = None
    mig_devices: tuple[MigDevice, ...] = ()
    clock_event_reasons: int | None = None
    """The raw NVML clock-event (throttle) bitmask."""
    fabric_state: str | None = None
    """NVSwitch fabric registration from NVML: ``not_supported``, ``not_started``,
    ``in_progress`` or ``completed`` (None where the driver cannot say)."""
    power_limit_default_w: float | None = None
    """The power limit the board starts with (``nvmlDeviceGetPowerManagementDefaultLimit``);
    null in reports written before 2026-12-07."""
    power_limit_min_w: float | None = None
    """The lowest power limit that may be set; null in reports written before 2026-12-07."""
    power_limit_max_w: float | None = None
    """The highest power limit that may be set; null in reports written before 2026-12-07."""
    power_limit_requested_w: float | None = None
    """The power management limit, as ``nvidia-smi -pl`` sets it
    (``nvmlDeviceGetPowerManagementLimit``). ``power_limit_w`` is the limit enforced after every
    limiter: below this one, something outside the driver (such as the out-of-band power limit
    interface of the server's management controller) holds the GPU lower. Null where NVML
    cannot say, and in reports written before 2026-12-08."""
    app_clock_graphics_mhz: int | None = None
    """The applications clock set for graphics/SM (``nvmlDeviceGetApplicationsClock``); null
    where the driver has deprecated it (Hopper and later) and before 2026-12-07."""
    app_clock_graphics_default_mhz: int | None = None
    """Its default (``nvmlDeviceGetDefaultApplicationsClock``)."""
    bar1_total_mib: int | None = None
    """The size of the BAR1 aperture (``nvmlDeviceGetBAR1MemoryInfo``): 256 MiB where
    resizable BAR is off; null before 2026-12-07."""
    gsp_firmware_enabled: bool | None = None
    """Whether the GPU runs its GSP firmware (``nvmlDeviceGetGspFirmwareMode``); null where
    the driver cannot say and before 2026-12-07."""
    gsp_firmware_default: bool | None = None
    """Whether GSP firmware is on by default for this GPU."""
    gsp_firmware_version: str | None = None
    nvlink_count: int | None = None
    """The NVLinks the driver lists for this GPU (``nvmlDeviceGetNvLinkState`` per link until
    the first link the GPU does not have); 0 for a GPU without NVLink, null where the driver
    could not be asked (MIG mode, no permission, an old driver) and in reports written before
    2026-12-07."""
    nvlinks_up: int | None = None
    """How many of the listed NVLinks are active; null where ``nvlink_count`` is."""
    nvlink_version: int | None = None
    """The NVLink generation of the active links (the first active link's
    ``nvmlDeviceGetNvLinkVersion``): 3 on A100, 4 on H100/H200; null where none is up."""
    nvlink_speed_mbps: int | None = None
    """The speed of the GPU's fastest active NVLink in MBps (``NVML_FI_DEV_NVLINK_GET_SPEED``
    per link, one ``nvmlDeviceGetFieldValues`` call); ``nvidia-smi nvlink -s`` shows the same
    figure in GB/s (26.562 per link on the recorded H100 and H200). Links NVML says are in
    their low-power state (idle, slower by design) are not counted. Null where no link is up,
    where the driver does not give the field, and in reports written before 2026-12-07."""
    nvlinks: tuple[NvLink, ...] | None = None
    """Only the listed NVLinks that are down, count an error or run slower than
    ``nvlink_speed_mbps`` (a healthy link carries nothing worth a line, and a node has 144);
    ``[]`` where every listed link is up, clean and at full speed (or the GPU has none), null
    where ``nvlink_count`` is and in reports written before 2026-12-07."""
    processes: tuple[GpuProcess, ...] = ()
    virtualization_mode: str | None = None
    """``none`` (bare metal), ``passthrough``, ``vgpu`` (a vGPU inside a virtual machine),
    ``host_vgpu`` or ``host_vsga``, from ``nvmlDeviceGetVirtualizationMode``; null in reports
    written before 2026-12-07 and where the driver cannot say."""
    vgpu_licensed: bool | None = None
    """In a vGPU guest: True when a licensable feature is licensed, False when none is
    (``nvmlDeviceGetGridLicensableFeatures``); null elsewhere (bare metal, passthrough)."""
    errors: tuple[Unavailable, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ExcludedGpu:
    """A GPU the driver excluded on purpose (``NVreg_ExcludedGpus``), as NVML names it
    (``nvmlGetExcludedDeviceInfoByIndex``): NVML does not list it among its GPUs."""

    pci_bus_id: str | None = None
    uuid: str | None = None


@dataclass(frozen=True, kw_only=True)
class NvmlInfo:
    """The outcome of NVML: whether it initialised, the versions, and every GPU it sees."""

    status: str
    """``ok`` or a named cause: ``library_not_found``, ``driver_not_loaded``,
    ``lib_rm_version_mismatch``, ``no_permission``, ``timeout``, ``bindings_missing``,
    ``unknown_error``."""
    message: str = ""
    driver_version: str | None = None
    nvml_version: str | None = None
    cuda_driver_version: str | None = None
    """``major.minor`` from ``nvmlSystemGetCudaDriverVersion_v2`` (or v1 when v2 failed)."""
    cuda_driver_version_source: str | None = None
    """``v2`` or ``v1``."""
    cuda_v2_error: str | None = None
    """The error code of v2 when v1 answered: the "NVML works, libcuda missing" signature."""
    gpus: tuple[GpuInfo, ...] = ()
    excluded_gpus: tuple[ExcludedGpu, ...] | None = None
    """The GPUs the driver excluded on purpose (``nvmlGetExcludedDeviceCount``, then
    ``nvmlGetExcludedDeviceInfoByIndex``); empty when it excluded none; None where it could
    not be asked (a driver or nvidia-ml-py without the calls, a failure recorded in
    ``errors``) and in reports written before 2026-12-08."""
    missing_functions: tuple[str, ...] = ()
    """NVML functions the installed nvidia-ml-py or driver lacked (FunctionNotFound)."""
    errors: tuple[Unavailable, ...] = ()


# --- CUDA user space ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LibraryInfo:
    """Where a CUDA library resolves from, and its version."""

    name: str
    """``cuda``, ``cudart``, ``cublas``, ``cudnn``, ``nvrtc``, ``nvjitlink``."""
    soname: str | None = None
    path: str | None = None
    version: str | None = None
    origin: str | None = None
    """``system``, ``conda``, ``pip`` (an ``nvidia-*`` wheel), ``ld_library_path``, ``wsl``."""
    error: str | None = None
    """The loader's own words when it could not be opened."""


@dataclass(frozen=True, kw_only=True)
class PackageInfo:
    """An installed Python distribution."""

    name: str
    version: str


@dataclass(frozen=True, kw_only=True)
class CudaInfo:
    """The CUDA driver API and libraries as a fresh child process sees them."""

    status: str
    """``ok``, ``failed``, ``timeout`` or ``skipped``."""
    message: str = ""
    libcuda_path: str | None = None
    libcuda_error: str | None = None
    cu_init_result: int | None = None
    cu_init_error: str | None = None
    """The CUresult name, e.g. ``CUDA_ERROR_NO_DEVICE``."""
    driver_version: str | None = None
    """From ``cuDriverGetVersion``, as ``major.minor``."""
    device_count: int | None = None
    libraries: tuple[LibraryInfo, ...] = ()
    nvidia_wheels: tuple[PackageInfo, ...] = ()


# --- frameworks -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FrameworkDevice:
    """One GPU as the framework sees it, and the outcome of a tiny computation on it."""

    index: int
    name: str | None = None
    compute_capability: str | None = None
    smoke_ok: bool | None = None
    """True when a tiny op on this GPU matched the CPU result."""
    smoke_error: str | None = None
    max_abs_diff: float | None = None
    conv_ok: bool | None = None
    """True when a small 2-D convolution (through cuDNN) on this GPU matched the CPU result; None
    when it was not run (TensorFlow's smoke test includes its convolution; reports written
    before 2026-12-07)."""
    conv_error: str | None = None
    """The convolution's error (first line) when it failed."""


@dataclass(frozen=True, kw_only=True)
class FrameworkInfo:
    """What an installed framework was built with and what it can really use."""

    name: str
    """``torch`` or ``tensorflow``."""
    status: str
    """``ok``, ``not_installed``, ``import_error``, ``timeout``, ``crashed``, or ``skipped``
    (not run: NVML hung, so the framework's CUDA init would hang too)."""
    message: str = ""
    version: str | None = None
    cuda_build: bool | None = None
    """False for a CPU-only build."""
    build_cuda: str | None = None
    build_cudnn: str | None = None
    """The cuDNN version the framework reports, decoded (``9.10.2`` or a major like ``9``)."""
    cudnn_runtime: str | None = None
    cuda_available: bool | None = None
    device_count: int | None = None
    arch_list: tuple[str, ...] = ()
    """``sm_XY`` / ``compute_XY`` entries the build carries."""
    devices: tuple[FrameworkDevice, ...] = ()
    init_error: str | None = None
    loaded_libraries: tuple[str, ...] = ()
    """Paths of CUDA libraries mapped into the child after import and a tiny op."""
    cudnn_library: LibraryInfo | None = None
    """The cuDNN file the framework really loaded and the version that file reports, recorded
    also when the framework refused it."""
    failed_libraries: tuple[LibraryInfo, ...] = ()
    requires: tuple[str, ...] = ()
    """The framework's ``Requires-Dist`` lines on ``nvidia-*`` wheels (read from its metadata,
    also when the import failed)."""
    import_messages: tuple[str, ...] = ()
    """What a failed (or warning) import said beyond ``message``: the chained exceptions'
    first lines, the warnings it raised and the lines it printed to stderr that name a cause
    (at most 8 lines of 300 characters); empty in reports written before 2026-12-07."""
    python_version: str | None = None
    duration_s: float | None = None
    numpy_version: str | None = None
    """The numpy the framework's Python imports; null when it does not import or was not read."""
    numpy_error: str | None = None
    """Why ``import numpy`` failed next to the framework (``not installed`` or the error's first
    line); null when it imported or was not tried. `gpudoctor verify` cannot run without it."""
    gpu_backend: str | None = None
    """The GPU backend of a build for GPUs other than NVIDIA's: ``rocm`` (AMD GPUs: a ROCm
    build, ``torch.version.hip`` set, whose GPUs ``torch.cuda`` lists), ``xpu`` (Intel GPUs:
    ``torch.version.xpu`` set) or ``mps`` (Apple GPUs: a build with MPS, as PyTorch's macOS
    wheels are); for TensorFlow ``rocm`` (``is_rocm_build`` in its build info) or ``metal``
    (macOS, where GPUs it lists come from Apple's Metal plugin); null for a CUDA or CPU-only
    build, and in reports written before 2026-12-08."""
    gpu_backend_version: str | None = None
    """That backend's version as the build names it: the HIP version of a ROCm build, the
    XPU build's (``20250101``); null for MPS."""
    gpu_backend_devices: int | None = None
    """GPUs that backend can use here: ``torch.cuda.device_count()`` on ROCm,
    ``torch.xpu.device_count()``, 1 where ``torch.backends.mps.is_available()`` (else 0),
    TensorFlow's GPU devices; null when it was not asked (the probe was kept from the GPU)."""


# --- where am I: SLURM, containers, environment modules, storage ------------------------------


@dataclass(frozen=True, kw_only=True)
class SlurmJob:
    """The SLURM job (and step) this process runs in, as its environment says."""

    job_id: str
    """``SLURM_JOB_ID``."""
    step_id: str | None = None
    """``SLURM_STEP_ID``: set inside ``srun``; absent in a batch script's own shell."""
    partition: str | None = None
    """``SLURM_JOB_PARTITION``."""
    node: str | None = None
    """``SLURMD_NODENAME``."""
    gpu_variables: dict[str, str] = field(default_factory=dict)
    """The GPU variables SLURM sets for a job that asked for GPUs (``SLURM_JOB_GPUS``,
    ``SLURM_STEP_GPUS``, ``SLURM_GPUS_ON_NODE``, ``SLURM_GPUS``, ``SLURM_GPUS_PER_NODE``,
    ``SLURM_TRES_PER_TASK``), only those that are set."""


@dataclass(frozen=True, kw_only=True)
class SlurmPartition:
    """One partition of the cluster as ``sinfo`` lists it (one entry per GRES and features)."""

    name: str
    default: bool = False
    """True for the partition jobs go to without ``-p`` (sinfo marks it ``*``)."""
    available: str | None = None
    """``up``, ``down``, ``drain`` or ``inact``."""
    nodes: str = ""
    """The nodes as a SLURM hostlist (``gpu[01-04]``)."""
    node_count: int | None = None
    gres: tuple[str, ...] = ()
    """Generic resources per node, as SLURM writes them: ``gpu:h100:8(S:0-1)``, ``gpu:8``."""
    features: tuple[str, ...] = ()
    nodes_usable: int | None = None
    """Nodes allocated or idle (sinfo's ``%F``: allocated/idle/other/total); the others are
    drained, down or otherwise unable to start a job. Null in reports written before
    2026-12-07."""


@dataclass(frozen=True, kw_only=True)
class SlurmCluster:
    """What the SLURM controller answered (the CLI asks it; a probe never runs SLURM)."""

    reachable: bool
    """True when ``sinfo`` answered."""
    command: str = ""
    """The command that was run."""
    message: str = ""
    """Why it did not answer (timeout, no controller)."""
    partitions: tuple[SlurmPartition, ...] = ()
    duration_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class SlurmNodeGres:
    """This node as SLURM's controller configures it: the GRES it gives out to jobs.

    The health gate asks; GD-GPU-068 compares it with the GPUs NVML lists.
    """

    name: str
    """The SLURM node name."""
    state: str = ""
    """The long state sinfo gives (``idle``, ``drained``, ``mixed+drain`` ...)."""
    gres: tuple[str, ...] = ()
    """Its configured generic resources as sinfo's ``%G`` writes them: ``gpu:h100:8(S:0-1)``,
    ``gpu:a100:4``, ``nic:2``; empty for a node with none (``(null)``)."""
    command: str = ""
    """The command that was run."""


@dataclass(frozen=True, kw_only=True)
class LoadedModule:
    """An environment module (Lmod or Tcl modules) loaded in this shell."""

    name: str
    """As ``module list`` shows it: ``cuda/12.4``."""
    file: str | None = None
    """The modulefile, from ``_LMFILES_``."""
    prefixes: tuple[str, ...] = ()
    """Install prefixes the modulefile names (absolute paths it sets, ``lib``/``lib64``
    stripped); a library under one of them came from this module."""


@dataclass(frozen=True, kw_only=True)
class CacheInfo:
    """A download or build cache that fills home directories."""

    name: str
    """``pip``, ``uv``, ``conda``, ``huggingface``, ``torch_extensions``, ``apptainer``."""
    path: str
    variable: str
    """The environment variable that moves it."""
    size_bytes: int | None = None
    """Its size (allocated blocks); None when it does not exist."""
    complete: bool = True
    """False when the walk stopped at its time or entry cap: the size is a lower bound."""
    fs_type: str | None = None
    """The file system type it lives on (from ``/proc/self/mounts``)."""
    mount_point: str | None = None


@dataclass(frozen=True, kw_only=True)
class FsUsage:
    """Space and inodes of one file system, and where it is mounted."""

    path: str
    mount_point: str | None = None
    fs_type: str | None = None
    total_bytes: int | None = None
    free_bytes: int | None = None
    """Available to an unprivileged user (``f_bavail``)."""
    total_inodes: int | None = None
    free_inodes: int | None = None


@dataclass(frozen=True, kw_only=True)
class StorageInfo:
    """Where a person runs out of space: home, the environment, the caches, the quota."""

    home: FsUsage | None = None
    environment: FsUsage | None = None
    """The file system of the inspected Python environment."""
    caches: tuple[CacheInfo, ...] = ()
    quota: tuple[str, ...] = ()
    """``quota -s`` output lines, where the command exists and answered."""


@dataclass(frozen=True, kw_only=True)
class RemoteRun:
    """Where ``check --partition``/``--nodelist`` ran the check: one compute node, via srun."""

    node: str
    """The SLURM node the check ran on."""
    partition: str | None = None
    """The partition the job ran in."""
    gres: str | None = None
    """The GRES the job asked for (``gpu:1``), None when the partition has no GPU GRES."""
    command: str = ""
    """The srun command line, as a shell would read it."""
    duration_s: float | None = None
    """Seconds from srun's start to the report's arrival."""


@dataclass(frozen=True, kw_only=True)
class ContainerToolkitInfo:
    """Docker on this host and the NVIDIA Container Toolkit that ``docker run --gpus`` needs,
    read from files and PATH: no docker command is run, so a hung daemon cannot hang it."""

    docker: str
    """Where Docker was found: the ``docker`` command's path, or ``/etc/docker``."""
    binaries: tuple[str, ...] = ()
    """The toolkit's programs found on PATH or in the system's bin folders
    (``/usr/bin/nvidia-container-runtime-hook``, ``/usr/bin/nvidia-ctk`` ...). Docker
    registers its ``gpu`` device driver, which ``--gpus`` asks for, only where
    ``nvidia-container-runtime-hook`` is on dockerd's PATH when it starts."""
    runtimes: tuple[str, ...] = ()
    """The runtimes ``/etc/docker/daemon.json`` names whose path is NVIDIA's (``nvidia``)."""
    cdi_specs: tuple[str, ...] = ()
    """NVIDIA's CDI specifications in ``/etc/cdi`` and ``/var/run/cdi`` (``nvidia.yaml``)."""
    errors: tuple[Unavailable, ...] = ()

    @property
    def present(self) -> bool:
        """True when any part of the toolkit is here."""
        return bool(self.binaries or self.runtimes or self.cdi_specs)


@dataclass(frozen=True, kw_only=True)
class SiteInfo:
    """Where this process runs: a SLURM login node or job, a container, loaded modules."""

    slurm_commands: bool = False
    """True when ``sinfo`` is on PATH."""
    srun_command: bool | None = None
    """True when ``srun`` is on PATH, False when it is not (a login node whose SLURM module
    or package left it out: GD-HOST-007 then names no srun line); None in reports written
    before 2026-12-08."""
    slurm_job: SlurmJob | None = None
    slurm: SlurmCluster | None = None
    """The cluster's partitions, when SLURM's commands exist and this is not inside a job."""
    container_env: dict[str, str] = field(default_factory=dict)
    """Variables that name the container runtime (``APPTAINER_CONTAINER``,
    ``SINGULARITY_CONTAINER``, ``KUBERNETES_SERVICE_HOST`` ...), only those that are set."""
    nv_libs: bool | None = None
    """Apptainer: True when ``/.singularity.d/libs`` holds ``libcuda.so.1`` (started with
    ``--nv``); None outside Apptainer."""
    shm_bytes: int | None = None
    """The size of ``/dev/shm`` (PyTorch's DataLoader workers pass tensors through it)."""
    driver_gpus: tuple[str, ...] = ()
    """PCI addresses under ``/proc/driver/nvidia/gpus``: the GPUs the loaded driver owns on
    this node, also those a job's device cgroup hides."""
    modules: tuple[LoadedModule, ...] = ()
    storage: StorageInfo | None = None
    errors: tuple[Unavailable, ...] = ()
    remote: RemoteRun | None = None
    """Set when ``check --partition`` or ``--nodelist`` ran this check on a compute node from
    another host (a login node); None for a check of the machine it ran on."""
    slurm_node: SlurmNodeGres | None = None
    """This node's GRES as SLURM configures it, where ``check --health-check --drain`` asked
    (its one ``sinfo``); None otherwise, and in reports written before 2026-12-07."""
    container_toolkit: ContainerToolkitInfo | None = None
    """Docker and the NVIDIA Container Toolkit on this host; None where Docker is not
    installed, inside a container, and in reports written before 2026-12-08."""


# --- building against the frameworks: CUDA toolkit, compilers, linker cache ------------------


@dataclass(frozen=True, kw_only=True)
class Compiler:
    """A C or C++ compiler on PATH (Triton and CUDA extensions call one)."""

    name: str
    """The command: ``cc``, ``gcc``, ``clang``, ``c++``, ``g++`` or ``clang++``."""
    path: str
    version: str | None = None
    """The first line of ``--version``."""


@dataclass(frozen=True, kw_only=True)
class ToolchainInfo:
    """What building against a framework would use: the CUDA toolkit, ``nvcc``, ``ptxas``, a
    C/C++ compiler and the linker cache's ``libcuda`` entries."""

    cuda_home: str | None = None
    """The CUDA toolkit root as ``torch.utils.cpp_extension`` finds it."""
    cuda_home_from: str | None = None
    """How: ``CUDA_HOME``, ``CUDA_PATH``, ``nvcc on PATH`` or ``/usr/local/cuda``."""
    nvcc: str | None = None
    """``<cuda_home>/bin/nvcc`` when it exists."""
    nvcc_version: str | None = None
    """``major.minor`` from ``nvcc --version`` (``release 12.4``)."""
    ptxas: str | None = None
    """``ptxas`` on PATH or under the toolkit (``TRITON_PTXAS_PATH`` when set)."""
    ldconfig_read: bool = False
    """True when ``ldconfig -p`` answered; the next field is then complete."""
    libcuda_cache: tuple[str, ...] = ()
    """The linker cache's ``libcuda.so*`` entries (``libcuda.so.1 => /usr/lib/libcuda.so.1``)."""
    compilers: tuple[Compiler, ...] = ()
    errors: tuple[Unavailable, ...] = ()


# --- access to the device files: cgroups, permissions, security modules ----------------------


@dataclass(frozen=True, kw_only=True)
class DeviceNode:
    """One NVIDIA device file: its mode, and whether this process could open it."""

    path: str
    mode: str | None = None
    """As ``ls -l`` writes it: ``crw-rw-rw-``."""
    uid: int | None = None
    gid: int | None = None
    open_error: str | None = None
    """``EPERM: Operation not permitted`` when opening it for reading failed; null when it
    opened or was not tried (see ``opened``)."""
    opened: bool | None = None
    """True when it opened, False when it did not, null when not tried (only ``/dev/nvidiactl``
    is opened: doing so starts no GPU)."""


@dataclass(frozen=True, kw_only=True)
class DeviceAccessInfo:
    """What decides whether this process may use the NVIDIA device files."""

    cgroup_version: str | None = None
    """``v2`` (unified hierarchy: the device filter is an eBPF program nothing can list) or
    ``v1``; null when ``/sys/fs/cgroup`` could not be read."""
    devices_list: tuple[str, ...] = ()
    """cgroup v1: the ``devices.list`` of this process's cgroup (``c 195:* m``)."""
    cgroup_path: str | None = None
    """cgroup v2: this process's cgroup, from the ``0::`` line of /proc/self/cgroup
    (``/system.slice/slurmstepd.scope/job_42/step_0/user/task_0`` in a SLURM job); null under
    v1, where it could not be read, and in reports written before 2026-12-08."""
    unit_devices: tuple[str, ...] | None = None
    """cgroup v2, in a systemd system unit (a ``.service`` or ``.scope`` under /system.slice):
    its device policy as ``systemctl show`` prints it (``DevicePolicy=closed``, one
    ``DeviceAllow=/dev/nvidia0 rw`` per entry); null where no such unit was asked about or
    systemctl did not answer."""
    nodes: tuple[DeviceNode, ...] = ()
    selinux: str | None = None
    """``enforcing``, ``permissive`` or ``disabled`` (no ``/sys/fs/selinux``)."""
    apparmor: bool | None = None
    """True when AppArmor is enabled in the kernel."""
    security_context: str | None = None
    """This process's label (``/proc/self/attr/current``): an SELinux context such as
    ``system_u:system_r:container_t:s0:c380,c597`` or an AppArmor profile such as
    ``docker-default (enforce)``."""
    errors: tuple[Unavailable, ...] = ()


# --- the whole report -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Report:
    """Everything ``gpudoctor check`` learned about one machine and one Python environment."""

    schema_version: int = SCHEMA_VERSION
    tool: str = CHECK_TOOL
    """What wrote it: ``gpudoctor check``. Absent in reports written before 2026-12-08, which
    are read as if it were there."""
    gpudoctor_version: str
    created_at: str
    """ISO 8601, UTC."""
    redacted: bool = False
    host: HostInfo
    driver: KernelDriverInfo
    nvml: NvmlInfo
    cuda: CudaInfo
    frameworks: tuple[FrameworkInfo, ...] = ()
    probes: tuple[ProbeRun, ...] = ()
    site: SiteInfo | None = None
    """Where this runs (SLURM, container, modules, storage); None in reports written before
    gpudoctor recorded it."""
    hardware: HardwareInfo | None = None
    """Kernel-log Xids, InfiniBand ports and the IOMMU; null in reports written before
    2026-12-07."""
    toolchain: ToolchainInfo | None = None
    """The CUDA toolkit, compilers and linker cache for building against the frameworks; null
    in reports written before 2026-12-07."""
    device_access: DeviceAccessInfo | None = None
    """cgroups, device-file permissions and security modules; null in reports written before
    2026-12-07."""

    def framework(self, name: str) -> FrameworkInfo | None:
        """The probe result of one framework, or None when it was not probed."""
        for fw in self.frameworks:
            if fw.name == name:
                return fw
        return None
