"""The typed, frozen rows of the knowledge base; every row carries its source and as-of date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

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
    unverified_arch: tuple[str, ...] = ()
    """Platforms whose arch list is not confirmed at its source."""

    def verified_on(self, platform: str) -> bool:
        """True when the row and the arch list for ``platform`` are both confirmed."""
        return self.verified and platform not in self.unverified_arch

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms this build exists for."""
        return tuple(self.arch)


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

    def variant(self, tag: str) -> Variant | None:
        """The variant with this tag, or None."""
        return next((v for v in self.variants if v.tag == tag), None)

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
