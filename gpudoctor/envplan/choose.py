"""Judging every build of a framework against a target, and picking the best one that fits.

A build (release x variant) fits when (1) the driver runs its CUDA, fully or through
minor-version compatibility, (2) its arch list covers the GPU, by SASS or PTX JIT (PTX only
when the driver runs the build's CUDA fully: it cannot JIT newer PTX), (3) it
supports the requested Python and (4) it exists for the target's platform. A Jetson (iGPU)
target fits only builds the data marks ``tegra``. The newest release
with a fitting build wins; within a release, full driver support beats minor-version
compatibility, SASS beats PTX, stable beats experimental, and a newer CUDA beats an older one.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpudoctor.envplan.target import Target
from gpudoctor.kb import ArchCoverage, KnowledgeBase
from gpudoctor.kb.records import CudaLevel, FrameworkRelease, Variant
from gpudoctor.model.versions import (
    framework_version,
    glibc_older,
    is_exact,
    parse_cc,
    python_key,
    release_key,
)

NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow"}


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One build and how it fares on the target; ``failed`` names the constraints it breaks."""

    release: FrameworkRelease
    variant: Variant
    driver_level: CudaLevel | None
    """None for a CPU build."""
    coverage: ArchCoverage | None
    """None for a CPU build or when the CC is unknown."""
    failed: frozenset[str]
    """A subset of ``version``, ``platform``, ``glibc``, ``python``, ``driver``, ``arch`` and
    ``ptx`` (the GPU is covered only by PTX from a CUDA newer than the driver runs fully)."""
    pinned: str | None = None
    """The exact version asked for (``--torch 2.9.0``), else None."""

    @property
    def version(self) -> str:
        """The version installed: the one asked for, else the newest known patch, else the
        series."""
        return self.pinned or self.release.display_version

    @property
    def fits(self) -> bool:
        """True when the build breaks no constraint."""
        return not self.failed

    @property
    def python_max(self) -> str:
        """The newest Python this build supports."""
        return self.variant.python_max or self.release.python_max

    @property
    def label(self) -> str:
        """``PyTorch 2.9.1 cu126`` or ``TensorFlow 2.21 (CPU)``."""
        name = NAMES[self.release.framework]
        tag = self.variant.tag if self.variant.cuda else "(CPU)"
        # --torch 2.9.1+cu126 pins its label, which the tag says already ("2.9.1+cu126 cu126")
        return f"{name} {self.version.split('+', 1)[0]} {tag}"

    def rank(self) -> tuple[object, ...]:
        """Sort key: larger is better."""
        level = {"full": 2, "minor_compat": 1}.get(self.driver_level or "", 0)
        cover = {"sass": 3, "unknown": 2, "ptx_jit": 1}.get(
            self.coverage.kind if self.coverage else "unknown", 0
        )
        cuda = tuple(int(x) for x in (self.variant.cuda or "0.0").split("."))
        return (
            release_key(self.release.version),
            level,
            cover,
            self.variant.status == "stable",
            cuda,
        )


def glibc_floor(
    kb: KnowledgeBase, platform: str, release: FrameworkRelease, variant: Variant, version: str
) -> str | None:
    """The oldest glibc a build installs on: the newer of its release's wheels' manylinux tag
    (``[[glibc_min]]``) and the build's own floor (a conda-forge ``c_stdlib_version``)."""
    row = kb.glibc_min(release.framework, version, platform, release.channel)
    floors = [f for f in (row.glibc if row else None, variant.glibc) if f is not None]
    return max(floors, key=python_key) if floors else None


def _older_glibc(
    kb: KnowledgeBase,
    target: Target,
    release: FrameworkRelease,
    variant: Variant,
    pinned: str | None,
) -> bool:
    """True when the target's glibc is older than the build's glibc floor."""
    floor = glibc_floor(kb, target.platform, release, variant, pinned or release.version)
    return floor is not None and glibc_older(target.glibc, floor)


def judge(
    kb: KnowledgeBase,
    target: Target,
    release: FrameworkRelease,
    variant: Variant,
    *,
    python: str | None,
    version: str | None,
    cpu: bool,
) -> Candidate:
    """How one build fares on ``target`` (CPU builds only when ``cpu``, GPU builds otherwise)."""
    failed: set[str] = set()
    pinned: str | None = None
    if version is not None:
        if release_key(version) != release_key(release.version):
            failed.add("version")
        elif is_exact(version):
            pinned = str(framework_version(version))
            local = framework_version(version).local
            if local is not None and local != variant.tag:
                # 2.9.1+cu126 is a wheel of the cu126 index only: pinned with another
                # build's index, pip finds no such version
                failed.add("version")
    if target.platform not in variant.arch:
        failed.add("platform")
    elif target.glibc and _older_glibc(kb, target, release, variant, pinned):
        failed.add("glibc")
    if python is not None:
        low, high = (
            python_key(release.python_min),
            python_key(variant.python_max or release.python_max),
        )
        if not low <= python_key(python) <= high:
            failed.add("python")
    level: CudaLevel | None = None
    coverage: ArchCoverage | None = None
    if variant.cuda is not None and not cpu:
        if target.driver is None:
            failed.add("driver")
        else:
            # judged by the CUDA whose libraries get installed (the wheels' own when they float)
            runtime = variant.pip_cuda or variant.cuda
            level = kb.cuda_support(target.driver, runtime, target.driver_os).level
            if level == "none":
                failed.add("driver")
        if target.cc is not None and target.platform in variant.arch:
            coverage = kb.arch_coverage(target.cc, variant.arch[target.platform])
            if kb.is_igpu(target.cc) and not variant.tegra:
                # an iGPU CC in a discrete (x86_64 or SBSA) build's list does not make it a
                # Jetson build: only builds the data marks as tegra are offered to Jetson
                coverage = ArchCoverage(kind="none")
            floor = kb.cudnn_floor(variant.installed_cudnn)
            if floor is not None and parse_cc(target.cc) < parse_cc(floor.lowest_cc):
                # the build's own kernels may cover the GPU, the cuDNN it bundles does not
                coverage = ArchCoverage(kind="none")
            if coverage.kind == "none":
                failed.add("arch")
            elif (
                coverage.kind == "ptx_jit"
                and target.driver is not None
                and kb.cuda_support(target.driver, variant.cuda, target.driver_os).level != "full"
            ):
                # the driver JIT-compiles PTX only up to its own CUDA: PTX from the build's
                # newer toolkit fails to load (CUDA_ERROR_UNSUPPORTED_PTX_VERSION), and minor-
                # version compatibility does not cover it
                failed.add("ptx")
    return Candidate(
        release=release,
        variant=variant,
        driver_level=level,
        coverage=coverage,
        failed=frozenset(failed),
        pinned=pinned,
    )


def candidates(
    kb: KnowledgeBase,
    target: Target,
    framework: str,
    channel: str,
    *,
    python: str | None,
    version: str | None,
    cpu: bool,
) -> list[Candidate]:
    """Every build of ``framework`` from ``channel`` judged on ``target``, best first.

    With ``cpu`` (or a target without a driver) only CPU builds are judged, else only CUDA
    builds.
    """
    cpu = cpu or not target.has_gpu
    judged = [
        judge(kb, target, release, variant, python=python, version=version, cpu=cpu)
        for release in kb.releases(framework, channel)
        for variant in release.variants
        if (variant.cuda is None) == cpu
    ]
    judged.sort(key=lambda c: c.rank(), reverse=True)
    return judged


def best(judged: list[Candidate]) -> Candidate | None:
    """The best build that fits, or None."""
    return next((c for c in judged if c.fits), None)
