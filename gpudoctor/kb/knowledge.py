"""The :class:`KnowledgeBase`: the loaded data and the typed queries the rules and make-env ask.

Queries (all pure; versions are strings as users and probes write them):

- ``cuda_support(driver, cuda, os) -> CudaSupport``: ``full``, ``minor_compat`` or ``none``.
- ``max_cuda_for_driver(driver, os) -> str | None``: the nvidia-smi "CUDA Version".
- ``past_known_branches(driver) -> bool``: the driver's branch is newer than every
  ``[[branch]]`` row, so its CUDA may be newer than ``max_cuda_for_driver`` says.
- ``min_driver(cuda, os, minor_compat=True) -> str | None``: the lowest driver that runs it.
- ``arch_coverage(cc, arch_list) -> ArchCoverage``: ``sass``, ``ptx_jit``, ``none``, ``unknown``.
- ``torch_release(version)``, ``tensorflow_release(version)``, ``conda_forge_release(fw, v)``.
- ``releases(framework, channel)``: every release, newest first.
- ``python_supported(framework, version, python, channel="pip") -> bool | None``.
- ``cuda_targets(cuda)``, ``architecture(cc)``, ``is_known_cc(cc)``, ``is_igpu(cc)``.
- ``last_cuda_for_cc(cc) -> str | None``: the newest CUDA that compiles for the CC.
- ``gpu_build_covers(cc) -> bool``: whether any recorded GPU build has code the CC runs.
- ``min_driver_for_cc(cc, os) -> str | None``: the oldest driver branch that knows the GPU.
- ``numpy_max(framework, version, platform, channel="pip") -> NumpyLimit | None``.
- ``newest_python(low, high)``: the newest released CPython in a range.
- ``last_branch_for_cc(cc) -> LastBranch | None``: the newest driver branch for a GPU generation.
- ``driver_drops_cc(driver, cc) -> LastBranch | None``: the row when ``driver``'s branch is
  newer than the last one that drives ``cc`` (R590 and a Pascal GPU).
- ``pci_range(device_id) -> PciRange | None``: generation, last branch and kernel-module flavour
  of a GPU by PCI device ID (``2b85``, ``0x2B85``, ``10de:2b85``); where rows nest (a board
  inside its generation's range), the narrowest.
- ``driver_drops_device(driver, device_id) -> PciRange | None``: the same check by device ID.
- ``message_cause(message) -> MessageMatch | None``: the cause a framework's failure message
  names (``GLIBC_2.28' not found``, ``_ARRAY_API not found``), from import_errors.toml.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from gpudoctor.errors import BadInputError, KnowledgeBaseError
from gpudoctor.kb.arch import ArchCoverage, coverage
from gpudoctor.kb.containers import FALLBACK_RUNTIME
from gpudoctor.kb.records import (
    ArchDriver,
    Architecture,
    ArchRules,
    CudaLevel,
    CudaSupport,
    CudaTargets,
    CudaToolkit,
    CudnnFloor,
    DriverBranch,
    FrameworkRelease,
    GlibcFloor,
    GpuModel,
    GpuStart,
    LastBranch,
    MessageMatch,
    MessagePattern,
    MinorCompatFloor,
    NumpyLimit,
    PciRange,
    PythonRelease,
    XidEntry,
)
from gpudoctor.model.versions import (
    cuda_key,
    framework_version,
    major_minor,
    parse_cc,
    parse_driver,
    python_key,
    release_key,
)

FRAMEWORKS = ("torch", "tensorflow")
CHANNELS = ("pip", "conda-forge")


def _dates(value: object) -> Iterator[dt.date]:
    """Every ``as_of`` in a row, its nested rows and tuples of rows."""
    if isinstance(value, tuple | list):
        for item in value:
            yield from _dates(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.name == "as_of" and isinstance(item, dt.date):
                yield item
            else:
                yield from _dates(item)


def _os_key(os: str) -> str:
    if os not in ("linux", "windows", "darwin"):
        raise BadInputError(f"operating system {os!r} is not linux or windows")
    return os


def _cuda_tuple(cuda: str) -> tuple[int, int]:
    return major_minor(cuda, "CUDA version")


_A = TypeVar("_A")


@dataclass(frozen=True, kw_only=True)
class KnowledgeBase:
    """Every fact make-env and the check rules rely on, with a source and a date per row."""

    toolkits: tuple[CudaToolkit, ...]
    minor_compat: tuple[MinorCompatFloor, ...]
    branches: tuple[DriverBranch, ...]
    targets: tuple[CudaTargets, ...]
    architectures: tuple[Architecture, ...]
    arch_rules: ArchRules
    release_rows: tuple[FrameworkRelease, ...] = ()
    """Every framework release, newest first (the loader sorts them)."""
    pythons: tuple[PythonRelease, ...] = ()
    """CPython feature releases, for make-env's default Python."""
    arch_drivers: tuple[ArchDriver, ...] = ()
    """The oldest driver branch per compute capability (discrete GPUs only)."""
    numpy_limits: tuple[NumpyLimit, ...] = ()
    glibc_floors: tuple[GlibcFloor, ...] = ()
    """The oldest glibc the pip wheels of framework versions install on (manylinux tags)."""
    """numpy ceilings of framework versions built against numpy 1.x."""
    last_branches: tuple[LastBranch, ...] = ()
    """The newest driver branch per architecture (older GPUs are dropped by later branches)."""
    pci_ranges: tuple[PciRange, ...] = ()
    """GPU generations by PCI device ID: last branch and kernel-module flavour."""
    message_patterns: tuple[MessagePattern, ...] = ()
    """Failure messages of framework imports and CUDA initialisation, and their causes."""
    xids: tuple[XidEntry, ...] = ()
    """NVIDIA's Xid catalogue: meaning, usual culprit and action per Xid (data/xid.toml)."""
    gpu_models: tuple[GpuModel, ...] = ()
    """Datacenter GPU models: expected NVLinks and ECC (data/gpu_models.toml)."""
    cudnn_floors: tuple[CudnnFloor, ...] = ()
    """The lowest compute capability per range of cuDNN versions (cuda_arch.toml
    ``[[cudnn]]``)."""
    gpu_starts: tuple[GpuStart, ...] = ()
    """How each container runtime is started with the host's GPU (data/containers.toml)."""

    def gpu_start(self, runtime: str) -> GpuStart | None:
        """How a container of ``runtime`` is started with the GPU; Docker's row for a runtime
        without its own; None only when the data has no rows."""
        rows = {r.runtime: r for r in self.gpu_starts}
        return rows.get(runtime) or rows.get(FALLBACK_RUNTIME)

    def xid(self, code: int) -> XidEntry | None:
        """The catalogue entry of Xid ``code``, or None for an Xid the catalogue lacks."""
        return next((x for x in self.xids if x.code == code), None)

    def gpu_model(self, name: str) -> GpuModel | None:
        """The first datacenter model whose ``name_regex`` matches an NVML GPU name."""
        return self._answer(
            ("gpu_model", name),
            lambda: next(
                (m for m in self.gpu_models if re.search(m.name_regex, name, re.IGNORECASE)),
                None,
            ),
        )

    _answers: dict[tuple[object, ...], Any] = field(default_factory=dict, compare=False, repr=False)
    """Answers already given: the rules ask every node of a fleet the same few questions,
    and rows and answers are immutable (a refusal is not kept: it is raised again)."""

    def _answer(self, question: tuple[object, ...], work: Callable[[], _A]) -> _A:
        try:
            return cast(_A, self._answers[question])
        except KeyError:
            answer = self._answers[question] = work()
            return answer

    @property
    def as_of(self) -> dt.date:
        """The knowledge base's date: the newest ``as_of`` of any row (what a file cites)."""
        return max(_dates(self))

    # --- driver and CUDA -----------------------------------------------------------------

    def _toolkit_floor(self, cuda: str, os: str) -> tuple[str | None, str]:
        rows = [t for t in self.toolkits if t.cuda == cuda and t.driver(os) is not None]
        if not rows:
            return None, ""
        first = min(rows, key=lambda t: t.update)
        return first.driver(os), first.source

    def _mvc_floor(self, cuda: str, os: str) -> tuple[str | None, str]:
        major, minor = _cuda_tuple(cuda)
        for floor in self.minor_compat:
            if floor.major == major and minor >= floor.first_minor:
                return floor.driver(os), floor.source
        return None, ""

    def cuda_support(self, driver: str, cuda: str, os: str) -> CudaSupport:
        """How driver ``driver`` on ``os`` (linux, windows; WSL counts as windows) runs CUDA
        ``cuda`` (``12.6`` or ``12.6.3``): ``full`` at or above the toolkit's own driver,
        ``minor_compat`` at or above its major's MVC floor, else ``none``."""
        return self._answer(
            ("cuda_support", driver, cuda, os), lambda: self._cuda_support(driver, cuda, os)
        )

    def _cuda_support(self, driver: str, cuda: str, os: str) -> CudaSupport:
        version = parse_driver(driver)
        key = cuda_key(cuda)
        full, full_source = self._toolkit_floor(key, _os_key(os))
        mvc, mvc_source = self._mvc_floor(key, os)
        source = "; ".join(s for s in (full_source, mvc_source) if s)
        if os == "darwin":
            return CudaSupport(
                level="none",
                full_min_driver=None,
                mvc_min_driver=None,
                source="CUDA has no macOS driver",
            )
        level: CudaLevel
        if full is not None and version >= Version(full):
            level = "full"
        elif mvc is not None and version >= Version(mvc):
            level = "minor_compat"
        else:
            level = "none"
        return CudaSupport(level=level, full_min_driver=full, mvc_min_driver=mvc, source=source)

    def max_cuda_for_driver(self, driver: str, os: str) -> str | None:
        """The newest CUDA ``major.minor`` driver ``driver`` fully supports (what nvidia-smi
        prints as "CUDA Version" and conda as ``__cuda``), or None below every known toolkit."""
        version = parse_driver(driver)
        if _os_key(os) == "darwin":
            return None
        best: tuple[int, int] | None = None
        for toolkit in self.toolkits:
            floor = toolkit.driver(os)
            if floor is not None and version >= Version(floor):
                key = _cuda_tuple(toolkit.cuda)
                best = key if best is None or key > best else best
        return f"{best[0]}.{best[1]}" if best else None

    def past_known_branches(self, driver: str) -> bool:
        """True when ``driver``'s branch is newer than every ``[[branch]]`` row (R620 while the
        newest is R615): ``max_cuda_for_driver`` is then only the newest CUDA the data knows,
        and the driver may run a newer one (a newer branch ships with a newer toolkit)."""
        newest = max((b.branch for b in self.branches), default=None)
        return newest is not None and parse_driver(driver).release[0] > newest

    def min_driver(self, cuda: str, os: str, *, minor_compat: bool = True) -> str | None:
        """The lowest driver that runs CUDA ``cuda``: the MVC floor when allowed and known,
        else the toolkit's own driver."""
        key = cuda_key(cuda)
        full, _ = self._toolkit_floor(key, _os_key(os))
        mvc, _ = self._mvc_floor(key, os)
        if minor_compat and mvc is not None:
            return mvc if full is None or Version(mvc) < Version(full) else full
        return full

    def cuda_versions(self) -> tuple[str, ...]:
        """Every CUDA ``major.minor`` in the toolkit table, oldest first."""
        keys = {t.cuda for t in self.toolkits}
        return tuple(sorted(keys, key=_cuda_tuple))

    def cuda_targets(self, cuda: str) -> CudaTargets | None:
        """The CC range toolkit ``cuda`` can compile for (the newest row of its major when
        ``cuda`` is newer than the table)."""
        key = _cuda_tuple(cuda)
        fallback: CudaTargets | None = None
        for row in self.targets:
            low, high = _cuda_tuple(row.cuda_min), _cuda_tuple(row.cuda_max)
            if low <= key <= high:
                return row
            if (
                low[0] == key[0]
                and low <= key
                and (fallback is None or low > _cuda_tuple(fallback.cuda_min))
            ):
                fallback = row
        return fallback

    # --- compute capability --------------------------------------------------------------

    def last_cuda_for_cc(self, cc: str) -> str | None:
        """The newest CUDA that compiles for CC ``cc`` (``10.2`` for 3.0: CUDA 11 dropped it);
        None for a CC no ``[[targets]]`` row covers."""
        want = parse_cc(cc)
        rows = [t for t in self.targets if parse_cc(t.lowest_cc) <= want <= parse_cc(t.highest_cc)]
        return max((t.cuda_max for t in rows), key=_cuda_tuple, default=None)

    def gpu_build_covers(self, cc: str) -> bool:
        """Whether any PyTorch or TensorFlow GPU build recorded (every release, channel and
        platform) has code a GPU of CC ``cc`` runs (SASS, or PTX it compiles): False for
        Kepler's CC 3.0, which no recorded build's arch list reaches."""
        return self._answer(("gpu_build_covers", cc), lambda: self._gpu_build_covers(cc))

    def _gpu_build_covers(self, cc: str) -> bool:
        return any(
            self.arch_coverage(cc, arch).kind in ("sass", "ptx_jit")
            for release in self.release_rows
            for variant in release.variants
            if variant.cuda is not None
            for arch in variant.arch.values()
            if arch
        )

    def arch_coverage(self, cc: str, arch_list: Sequence[str]) -> ArchCoverage:
        """How a GPU of compute capability ``cc`` is covered by a build's ``arch_list``
        (entries like ``sm_86``, ``compute_90``, ``8.6``, ``86``, ``8.6+PTX``, ``sm_90a``)."""
        return self._answer(
            ("arch_coverage", cc, tuple(arch_list)),
            lambda: coverage(
                cc, arch_list, igpu_ccs=self.arch_rules.igpu_ccs, renamed=self.arch_rules.renamed
            ),
        )

    def architecture(self, cc: str) -> Architecture | None:
        """The GPU generation of ``cc``, or None when the CC is not in the table."""
        key = parse_cc(cc)
        return next((a for a in self.architectures if parse_cc(a.cc) == key), None)

    def is_known_cc(self, cc: str) -> bool:
        """True when ``cc`` parses and is a compute capability NVIDIA has shipped."""
        try:
            return self.architecture(cc) is not None
        except BadInputError:
            return False

    def is_igpu(self, cc: str) -> bool:
        """True for an integrated (Jetson/Tegra) GPU."""
        key = parse_cc(cc)
        return any(parse_cc(x) == key for x in self.arch_rules.igpu_ccs)

    def arch_driver(self, cc: str) -> ArchDriver | None:
        """The row behind :meth:`min_driver_for_cc` (with its source), or None."""
        key = self._renamed(parse_cc(cc))
        return next((r for r in self.arch_drivers if parse_cc(r.cc) == key), None)

    def cudnn_floor(self, cudnn: str | None) -> CudnnFloor | None:
        """The row whose range holds ``cudnn`` (``9.1.0.70``, ``9.28.0.42``; a bare ``9`` is
        read as 9.0), or None when the data has none for it (or ``cudnn`` is None)."""
        if not cudnn:
            return None
        try:
            version = Version(cudnn)
        except ValueError:  # InvalidVersion, or a part longer than int() converts
            return None
        return next((f for f in self.cudnn_floors if version in SpecifierSet(f.versions)), None)

    def min_driver_for_cc(self, cc: str, os: str) -> str | None:
        """The oldest driver that knows a GPU of compute capability ``cc`` on ``os`` (``linux``
        or ``windows``; WSL2 counts as windows): a branch floor such as ``570``, the branch of
        the first CUDA toolkit that targets the CC. None when the data has no floor for the CC
        (older GPUs, Jetson iGPUs whose drivers come with JetPack) or on ``darwin``."""
        if _os_key(os) == "darwin":
            return None
        row = self.arch_driver(cc)
        return row.driver if row else None

    def _renamed(self, cc: tuple[int, int]) -> tuple[int, int]:
        for old, new in self.arch_rules.renamed.items():
            if parse_cc(old) == cc:
                return parse_cc(new)
        return cc

    # --- driver branches that drop GPUs --------------------------------------------------

    def last_branch_for_cc(self, cc: str) -> LastBranch | None:
        """The newest driver branch that drives a discrete GPU of compute capability ``cc``
        (``470`` for Kepler, ``580`` for Maxwell, Pascal and Volta), or None while current
        branches drive it (Turing and newer) or for Jetson iGPUs."""
        key = parse_cc(cc)
        if self.is_igpu(cc):
            return None
        return next(
            (r for r in self.last_branches if parse_cc(r.cc_min) <= key <= parse_cc(r.cc_max)),
            None,
        )

    def driver_drops_cc(self, driver: str, cc: str) -> LastBranch | None:
        """The row that says driver ``driver`` no longer drives compute capability ``cc`` (its
        branch is newer than the last one for that GPU), else None."""
        row = self.last_branch_for_cc(cc)
        if row is None or parse_driver(driver).release[0] <= row.branch:
            return None
        return row

    def pci_range(self, device_id: str) -> PciRange | None:
        """The row for an NVIDIA GPU's PCI device ID (``2b85``, ``0x2B85`` or ``10de:2b85``),
        or None when the text is no device ID."""
        text = device_id.strip().lower().removeprefix("10de:").removeprefix("0x")
        try:
            value = int(text, 16)
        except ValueError:
            return None
        if not 0 <= value <= 0xFFFF:
            return None
        # a row inside another is its exception (one board whose last branch differs from
        # its range's): the narrowest row that holds the ID answers
        found = [r for r in self.pci_ranges if r.first <= value <= r.last]
        return min(found, key=lambda r: r.last - r.first, default=None)

    def driver_drops_device(self, driver: str, device_id: str) -> PciRange | None:
        """The row that says driver ``driver`` no longer drives the GPU with this PCI device
        ID, else None."""
        row = self.pci_range(device_id)
        if row is None or row.last_branch is None:
            return None
        return row if parse_driver(driver).release[0] > row.last_branch else None

    # --- frameworks ----------------------------------------------------------------------

    def message_cause(self, message: str) -> MessageMatch | None:
        """The cause a framework's failure message names (the first matching row of
        import_errors.toml), or None when the catalogue knows no such message."""
        from gpudoctor.kb.messages import match_message

        return match_message(self.message_patterns, message)

    def releases(self, framework: str, channel: str = "pip") -> tuple[FrameworkRelease, ...]:
        """Every release of ``framework`` from ``channel``, newest first."""
        if framework not in FRAMEWORKS:
            raise BadInputError(f"unknown framework {framework!r} (torch or tensorflow)")
        if channel not in CHANNELS:
            raise BadInputError(f"unknown source {channel!r} (pip or conda-forge)")
        return tuple(
            r for r in self.release_rows if r.framework == framework and r.channel == channel
        )

    def release(
        self, framework: str, version: str, channel: str = "pip"
    ) -> FrameworkRelease | None:
        """The release series holding ``version`` (``2.9`` or ``2.9.1``), or None."""
        return self._answer(
            ("release", framework, version, channel),
            lambda: self._release(framework, version, channel),
        )

    def _release(self, framework: str, version: str, channel: str) -> FrameworkRelease | None:
        key = release_key(version)
        return next(
            (r for r in self.releases(framework, channel) if release_key(r.version) == key), None
        )

    def torch_release(self, version: str) -> FrameworkRelease | None:
        """The PyTorch pip release holding ``version``, or None when it is not in the data."""
        return self.release("torch", version)

    def tensorflow_release(self, version: str) -> FrameworkRelease | None:
        """The TensorFlow PyPI release holding ``version``, or None."""
        return self.release("tensorflow", version)

    def conda_forge_release(self, framework: str, version: str) -> FrameworkRelease | None:
        """The conda-forge release of ``framework`` holding ``version``, or None."""
        return self.release(framework, version, "conda-forge")

    def python_supported(
        self, framework: str, version: str, python: str, channel: str = "pip"
    ) -> bool | None:
        """Whether Python ``python`` is in the release's range; None when the release is
        unknown."""
        release = self.release(framework, version, channel)
        if release is None:
            return None
        key = python_key(python)
        return python_key(release.python_min) <= key <= python_key(release.python_max)

    def numpy_max(
        self, framework: str, version: str, platform: str, channel: str = "pip"
    ) -> NumpyLimit | None:
        """The numpy ceiling for ``framework`` ``version`` (one release like ``2.4.0``, or a
        series like ``2.10``, read as its ``.0``) on ``platform`` (``linux-64``, ``win-64``, ...),
        or None when its wheels work with numpy 2."""
        wanted = Version(framework_version(version).public)
        for limit in self.numpy_limits:
            if (
                limit.framework == framework
                and limit.channel == channel
                and (not limit.platforms or platform in limit.platforms)
                and SpecifierSet(limit.versions).contains(wanted, prereleases=True)
            ):
                return limit
        return None

    def glibc_min(
        self, framework: str, version: str, platform: str, channel: str = "pip"
    ) -> GlibcFloor | None:
        """The glibc floor of ``framework`` ``version`` (a release, or a series read as its
        ``.0``) on ``platform``, or None when the data records none."""
        wanted = Version(framework_version(version).public)
        for floor in self.glibc_floors:
            if (
                floor.framework == framework
                and floor.channel == channel
                and (not floor.platforms or platform in floor.platforms)
                and SpecifierSet(floor.versions).contains(wanted, prereleases=True)
            ):
                return floor
        return None

    def python_release(self, version: str) -> PythonRelease | None:
        """The row of CPython ``major.minor`` (a patch part is ignored), or None if unknown."""
        key = python_key(version)
        return next((p for p in self.pythons if python_key(p.version) == key), None)

    def newest_python(self, low: str, high: str) -> str | None:
        """The newest released CPython in ``low``..``high``, or None."""
        lo, hi = python_key(low), python_key(high)
        keys = [
            python_key(p.version)
            for p in self.pythons
            if p.released is not None and lo <= python_key(p.version) <= hi
        ]
        return f"{max(keys)[0]}.{max(keys)[1]}" if keys else None

    # --- consistency ---------------------------------------------------------------------

    def validate(self) -> None:
        """Cross-row checks: unique keys, no overlapping ranges, drivers rising with CUDA."""
        seen: set[object] = set()

        def unique(key: object, what: str) -> None:
            if key in seen:
                raise KnowledgeBaseError(f"duplicate {what}: {key}")
            seen.add(key)

        for t in self.toolkits:
            unique(("toolkit", t.cuda, t.update), "toolkit row")
        for f in self.minor_compat:
            unique(("mvc", f.major), "minor-compat major")
        for b in self.branches:
            unique(("branch", b.branch), "driver branch")
        for a in self.architectures:
            unique(("cc", parse_cc(a.cc)), "compute capability")
        for r in self.release_rows:
            unique((r.framework, r.channel, r.version), "release")
        for p in self.pythons:
            unique(("python", python_key(p.version)), "Python release")
        for x in self.xids:
            unique(("xid", x.code), "Xid")
        for d in self.arch_drivers:
            unique(("arch driver", parse_cc(d.cc)), "min_driver row for CC")
            if not self.is_known_cc(d.cc) or self.is_igpu(d.cc):
                raise KnowledgeBaseError(f"min_driver row for CC {d.cc}: not a discrete GPU CC")
            branch = next((b for b in self.branches if b.cuda == cuda_key(d.cuda)), None)
            if branch is None or Version(d.driver) != Version(str(branch.branch)):
                raise KnowledgeBaseError(
                    f"min_driver row for CC {d.cc}: {d.driver} is not the branch that first "
                    f"shipped CUDA {d.cuda}"
                )
        for os in ("linux", "windows"):
            ordered = sorted(
                (t for t in self.toolkits if t.driver(os)),
                key=lambda t: (_cuda_tuple(t.cuda), t.update),
            )
            for older, newer in itertools.pairwise(ordered):
                if parse_driver(str(newer.driver(os))) < parse_driver(str(older.driver(os))):
                    raise KnowledgeBaseError(
                        f"{os} driver of CUDA {newer.cuda} update {newer.update} is below "
                        f"that of {older.cuda} update {older.update}"
                    )
        spans = sorted((_cuda_tuple(t.cuda_min), _cuda_tuple(t.cuda_max)) for t in self.targets)
        for low, high in spans:
            if low > high:
                raise KnowledgeBaseError(f"CUDA target range {low}..{high} is reversed")
        for (_, high), (low, _) in itertools.pairwise(spans):
            if low <= high:
                raise KnowledgeBaseError(f"CUDA target ranges overlap at {low}")
        _check_pci_nesting(self.pci_ranges)
        flagged = {parse_cc(a.cc) for a in self.architectures if a.igpu}
        if flagged != {parse_cc(x) for x in self.arch_rules.igpu_ccs}:
            raise KnowledgeBaseError("igpu architectures disagree with [rules].igpu_ccs")


def _check_pci_nesting(ranges: tuple[PciRange, ...]) -> None:
    """PCI ranges may nest (a board inside its generation's range: the narrowest answers),
    never cross or repeat."""
    for one, other in itertools.combinations(ranges, 2):
        first, last = max(one.first, other.first), min(one.last, other.last)
        if first > last:
            continue
        rows = ((one.first, one.last), (other.first, other.last))
        if (first, last) not in rows or rows[0] == rows[1]:
            raise KnowledgeBaseError(f"PCI ranges overlap at {first:04x}")
