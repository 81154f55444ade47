"""The typed, frozen rows of the knowledge base; every row carries its source and as-of date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from packaging.version import Version

CudaLevel = Literal["full", "minor_compat", "none"]


@dataclass(frozen=True, kw_only=True)
class Sourced:
    """Where a row comes from and when it was last read there."""

    source: str
    as_of: dt.date
    verified: bool = True
    """False where the reference marks the fact as moving or unconfirmed."""
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class CudaToolkit(Sourced):
    """One CUDA toolkit release and the driver it was qualified with (its full-feature floor)."""

    cuda: str
    """``major.minor``."""
    update: int = 0
    """0 for GA, 1 for Update 1, ..."""
    linux_driver: str | None
    windows_driver: str | None
    """None where the release notes say N/A."""

    def driver(self, os: str) -> str | None:
        """The floor on ``linux`` or ``windows``."""
        return self.windows_driver if os == "windows" else self.linux_driver


@dataclass(frozen=True, kw_only=True)
class MinorCompatFloor(Sourced):
    """The driver a CUDA major needs for minor-version compatibility (MVC)."""

    major: int
    first_minor: int = 0
    """MVC covers ``major.first_minor`` and newer (11.0 itself is not covered)."""
    linux_driver: str
    windows_driver: str

    def driver(self, os: str) -> str:
        """The floor on ``linux`` or ``windows``."""
        return self.windows_driver if os == "windows" else self.linux_driver


@dataclass(frozen=True, kw_only=True)
class DriverBranch(Sourced):
    """A driver branch (R535, R580, ...) and the newest CUDA it first shipped with."""

    branch: int
    cuda: str


@dataclass(frozen=True, kw_only=True)
class CudaTargets(Sourced):
    """The compute capabilities a range of CUDA toolkits can compile for."""

    cuda_min: str
    cuda_max: str
    lowest_cc: str
    highest_cc: str


@dataclass(frozen=True, kw_only=True)
class Architecture(Sourced):
    """A compute capability and the GPU generation it belongs to."""

    cc: str
    name: str
    examples: str = ""
    igpu: bool = False
    """True for integrated (Jetson/Tegra) GPUs, which run only code built for their own CC."""
    platforms: tuple[str, ...] = ()
    """The only platforms (conda subdirs: ``linux-aarch64``) a machine with a GPU of this CC
    is, when that is fewer than all: Jetson and GB10 are Arm systems on a chip. Empty: any."""


@dataclass(frozen=True, kw_only=True)
class ArchDriver(Sourced):
    """The oldest driver branch that knows a GPU of compute capability ``cc``."""

    cc: str
    driver: str
    """A branch floor such as ``570`` (every 570.x driver and newer)."""
    cuda: str
    """The CUDA toolkit that first targeted this CC; ``driver`` is the branch it shipped with."""


@dataclass(frozen=True, kw_only=True)
class CudnnFloor(Sourced):
    """The lowest compute capability a range of cuDNN versions supports (its own kernels: a
    framework build whose arch list covers an older GPU still fails in cuDNN there)."""

    versions: str
    """A PEP 440 specifier over the cuDNN version, e.g. ``>=9.11,<10``."""
    lowest_cc: str


@dataclass(frozen=True, kw_only=True)
class LastBranch(Sourced):
    """The newest driver branch that still drives an architecture; later branches refuse it."""

    architecture: str
    cc_min: str
    cc_max: str
    """The compute capability range, inclusive."""
    branch: int
    """``580``: every 580.x driver drives it, no 590.x does."""


KernelModule = Literal["proprietary", "any", "open"]


@dataclass(frozen=True, kw_only=True)
class PciRange(Sourced):
    """A range of NVIDIA GPU PCI device IDs: its generation, last branch and module flavour."""

    first: int
    last: int
    """Device IDs, inclusive (vendor 10de, display-class functions only)."""
    generation: str
    last_branch: int | None = None
    """The newest driver branch that drives these GPUs; None while current drivers do."""
    per_generation: tuple[tuple[str, int], ...] = ()
    """Where the device ID does not tell the generation: each generation a GPU here may be,
    with its own last branch, newest first (``(("Kepler", 470), ("Fermi", 390), ("Tesla",
    340))``); ``last_branch`` is then only the newest of them. Empty where the ID tells."""
    kernel_module: KernelModule
    """``proprietary`` (the open modules refuse these GPUs), ``any``, or ``open`` (the
    proprietary module refuses them)."""


@dataclass(frozen=True, kw_only=True)
class ArchRules(Sourced):
    """Data the arch-coverage rule reads: the integrated-GPU CCs and renamed CCs."""

    igpu_ccs: tuple[str, ...]
    renamed: Mapping[str, str] = field(default_factory=dict)
    """Old CC -> new CC (10.1 became 11.0)."""


@dataclass(frozen=True, kw_only=True)
class PythonRelease(Sourced):
    """A CPython feature release; ``released`` is None while it is still in beta."""

    version: str
    released: dt.date | None = None


@dataclass(frozen=True, kw_only=True)
class Variant(Sourced):
    """One build of a framework release: a CUDA version (or CPU) and where to get it."""

    tag: str
    """``cu126``, ``cpu`` (pip) or ``cuda129`` (conda-forge build-string prefix)."""
    cuda: str | None
    """``major.minor``; None for a CPU build."""
    cudnn: str | None = None
    status: Literal["stable", "experimental"] = "stable"
    index_url: str | None = None
    """The pip index that serves this variant (None: PyPI itself, or a conda channel)."""
    package: str | None = None
    """The requirement name when it differs from the release's, e.g. ``tensorflow[and-cuda]``."""
    arch: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Arch list per platform (``linux-64``, ``linux-aarch64``, ``win-64``); a platform that is
    absent has no such build."""
    conda: tuple[str, ...] = ()
    """conda packages the variant needs next to it (``cudatoolkit=11.2``)."""
    pip: tuple[str, ...] = ()
    """pip requirements the variant needs next to it (``nvidia-cudnn-cu11==8.6.0.163``)."""
    cudnn_pip: str | None = None
    """The exact ``nvidia-cudnn-cu*`` wheel the pip package pins, when known."""
    python_max: str | None = None
    """A lower Python ceiling than the release's, for this variant only."""
    pip_cudnn: str | None = None
    """The cuDNN wheel pip installs with the package when it sets only a floor (the newest at
    ``as_of``); None when ``cudnn_pip``/``cudnn`` is what gets installed."""
    pip_cuda: str | None = None
    """The CUDA of the ``nvidia-*`` wheels pip installs with the package when it sets floors
    rather than pins (TensorFlow 2.20+ ``[and-cuda]``: the newest CUDA 12 wheels, 12.9 in
    2026-12); None when the wheels are pinned to ``cuda`` or come from elsewhere."""
    unverified_arch: tuple[str, ...] = ()
    """Platforms whose arch list is not confirmed at its source."""
    tegra: bool = False
    """True when the build is made for Jetson/Tegra integrated GPUs; builds without it are
    for discrete GPUs (x86_64, or server ARM/SBSA) even when their arch list names an iGPU CC."""
    glibc: str | None = None
    """The oldest glibc this build installs on (Linux), when the build itself sets one: a
    conda-forge build made with ``c_stdlib_version`` 2.28 depends on ``__glibc >=2.28``."""

    @property
    def installed_cudnn(self) -> str | None:
        """The cuDNN this build runs with, as exactly as the data knows it."""
        return self.pip_cudnn or self.cudnn_pip or self.cudnn

    def verified_on(self, platform: str) -> bool:
        """True when the row and the arch list for ``platform`` are both confirmed."""
        return self.verified and platform not in self.unverified_arch

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms this build exists for."""
        return tuple(self.arch)


@dataclass(frozen=True, kw_only=True)
class Patches(Sourced):
    """Every published version of a release series (``2.9.0``, ``2.9.1``)."""

    versions: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class NumpyLimit(Sourced):
    """A numpy ceiling for framework versions whose wheels were built against numpy 1.x."""

    framework: str
    channel: str
    versions: str
    """A PEP 440 specifier over the framework version, e.g. ``<2.18``."""
    numpy: str
    """The specifier to add to numpy, e.g. ``<2``."""
    platforms: tuple[str, ...] = ()
    """The platforms it applies to; empty means all."""

    @property
    def requirement(self) -> str:
        """``numpy<2``."""
        return f"numpy{self.numpy}"


@dataclass(frozen=True, kw_only=True)
class GlibcFloor(Sourced):
    """The oldest glibc the wheels of some framework versions install on (their manylinux
    tag): pip finds no wheel for an older one."""

    framework: str
    channel: str
    versions: str
    """A PEP 440 specifier over the framework version, e.g. ``>=2.7``."""
    glibc: str
    """``2.28`` for ``manylinux_2_28``."""
    platforms: tuple[str, ...] = ()
    """The platforms it applies to; empty means all."""


@dataclass(frozen=True, kw_only=True)
class FrameworkRelease(Sourced):
    """A release series (``2.9``) of PyTorch or TensorFlow from one source (pip or conda-forge)."""

    framework: Literal["torch", "tensorflow"]
    channel: Literal["pip", "conda-forge"]
    version: str
    """The series, ``major.minor``."""
    latest: str | None = None
    """The newest patch release known, e.g. ``2.9.1``; None when not recorded."""
    released: str = ""
    """``YYYY-MM``."""
    package: str
    """The pip requirement name or the conda package name."""
    python_min: str
    python_max: str
    variants: tuple[Variant, ...]
    companions: Mapping[str, str] = field(default_factory=dict)
    """Packages released in lock-step, e.g. ``{"torchvision": "0.24"}``."""
    patches: Patches | None = None
    """Every published version of the series, when recorded."""

    def variant(self, tag: str) -> Variant | None:
        """The variant with this tag, or None."""
        return next((v for v in self.variants if v.tag == tag), None)

    def has_version(self, version: str) -> bool | None:
        """Whether ``version`` (one release of this series, e.g. ``2.9.1``) was published: from
        the recorded patch list, else a final release at or below ``latest``; None when the
        data records neither. A local label (``+cu126``) is ignored."""
        wanted = Version(Version(version).public)
        if self.patches is not None:
            return any(Version(v) == wanted for v in self.patches.versions)
        if self.latest is None:
            return None
        series = tuple(int(x) for x in self.version.split("."))
        return (
            wanted.release[:2] == series
            and not wanted.is_prerelease
            and wanted <= Version(self.latest)
        )

    @property
    def display_version(self) -> str:
        """The newest known patch release, else the series."""
        return self.latest or self.version


TorchRelease = FrameworkRelease
"""A PyTorch release (``framework == "torch"``)."""
TensorflowRelease = FrameworkRelease
"""A TensorFlow release (``framework == "tensorflow"``)."""


@dataclass(frozen=True, kw_only=True)
class CudaSupport:
    """How a driver supports a CUDA version."""

    level: CudaLevel
    """``full`` (driver >= the toolkit's own driver), ``minor_compat`` (driver >= the major's
    minor-version-compatibility floor) or ``none``."""
    full_min_driver: str | None
    mvc_min_driver: str | None
    source: str


MessageCause = Literal[
    "numpy_abi",
    "glibc",
    "glibcxx",
    "cpu_isa",
    "undefined_symbol",
    "wheel_platform",
    "cudnn_mixed",
]
MESSAGE_CAUSES: tuple[str, ...] = get_args(MessageCause)
"""The causes a framework's failure message can name (import_errors.toml); each has its rule."""


@dataclass(frozen=True, kw_only=True)
class MessagePattern(Sourced):
    """A message that framework imports and CUDA initialisation print, and the cause it names.

    ``title`` and each ``fix`` line may name the pattern's named groups as ``{group}``; a group
    that did not take part in the match reads ``?``.
    """

    id: str
    """A stable key, e.g. ``glibc-version-not-found``."""
    pattern: str
    """A Python regular expression, searched (not matched) in each message."""
    cause: MessageCause
    title: str
    fix: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class MessageMatch:
    """A failure message and the catalogue row it matched."""

    row: MessagePattern
    line: str
    """The whole message that matched."""
    matched: str
    """The part of it the pattern matched."""
    groups: Mapping[str, str]
    """The pattern's named groups (``?`` for one that did not take part)."""

    @property
    def cause(self) -> str:
        return self.row.cause

    @property
    def source(self) -> str:
        return self.row.source

    @property
    def title(self) -> str:
        """The row's title; a group holding a path is named by its file name (the fix lines and
        the evidence keep the path)."""
        short = {
            k: v.rsplit("/", 1)[-1] if v.startswith("/") else v for k, v in self.groups.items()
        }
        return self.row.title.format_map(short)

    @property
    def fix(self) -> tuple[str, ...]:
        return tuple(line.format_map(self.groups) for line in self.row.fix)


XID_BLAMES = ("application", "hardware", "driver", "unknown")
"""Where the fault of an Xid usually lies (data/xid.toml)."""
XID_ACTIONS = ("none", "restart_job", "reset_gpu", "reboot", "drain_repair")
"""What to do after an Xid, least to most disruptive (NVIDIA's resolution buckets)."""


@dataclass(frozen=True, kw_only=True)
class XidEntry(Sourced):
    """One NVIDIA Xid: its name, meaning, usual culprit and the action it calls for."""

    code: int
    name: str
    meaning: str
    blame: str
    """One of :data:`XID_BLAMES`."""
    action: str
    """One of :data:`XID_ACTIONS`."""


@dataclass(frozen=True, kw_only=True)
class GpuModel(Sourced):
    """A datacenter GPU model by its NVML name: the NVLinks it should have, whether ECC is on."""

    name_regex: str
    label: str
    nvlinks: int | None = None
    """Active NVLinks expected on every GPU; None where it depends on an optional bridge."""
    ecc: bool = True
    """True where ECC belongs on."""


@dataclass(frozen=True, kw_only=True)
class GpuStart(Sourced):
    """How one container runtime is started with the host's GPU (data/containers.toml)."""

    runtime: str
    """``docker``, ``podman``, ``apptainer`` or ``kubernetes``, as the probe names it."""
    start: str
    """What gives the container every GPU: ``docker run --gpus all ...``."""
    detail: str = ""
    """What it needs, or a note (shown in parentheses after ``start``)."""

    @property
    def text(self) -> str:
        """``start (detail)``: how check, make-env and verify all say it."""
        return f"{self.start} ({self.detail})" if self.detail else self.start
