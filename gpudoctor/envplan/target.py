"""The machine an environment is planned for: driver, lowest compute capability, OS and CPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gpudoctor.errors import BadInputError, PlanError
from gpudoctor.model.derived import (
    OTHER_GPU_MAKERS,
    is_gpu_function,
    other_gpu_builds,
    set_aside_for_vm,
    wsl_name,
)
from gpudoctor.model.report import PciFunction, Report
from gpudoctor.model.versions import cc_text, major_minor, parse_cc, parse_driver

if TYPE_CHECKING:  # rules reach this module (suggest_command): it must not load the kb
    from gpudoctor.kb import KnowledgeBase

COMMAND_LINE = "the command line"
_FRAMEWORK_NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow"}
OSES = ("linux", "windows")
ARCHES = ("x86_64", "aarch64")
_PLATFORMS = {
    ("linux", "x86_64"): "linux-64",
    ("linux", "aarch64"): "linux-aarch64",
    ("windows", "x86_64"): "win-64",
}
CPU_OPTION = "--cpu"
"""make-env's way to a CPU-only environment, as its messages name it."""
CPU_COMMAND = "`gpudoctor make-env --cpu`"
"""The same for a command that hands its options to make-env and has no --cpu (onboard)."""


@dataclass(frozen=True, kw_only=True)
class Target:
    """What make-env plans for; ``driver`` None means no NVIDIA driver (CPU only)."""

    driver: str | None
    """The NVIDIA driver version (``580.95.05``); None for no driver: CPU only."""
    cc: str | None
    """The lowest compute capability among the visible GPUs (``major.minor``)."""
    os: str = "linux"
    """Where the packages run: ``linux`` (also under WSL2) or ``windows``."""
    arch: str = "x86_64"
    """The CPU architecture: ``x86_64`` or ``aarch64``."""
    wsl: bool = False
    """True under WSL2: packages are Linux ones, the driver is the Windows one."""
    wsl1: bool = False
    """True under WSL 1, which has no GPU support (CUDA runs in WSL 2 only): Linux packages,
    CPU only; ``wsl`` is False there, as no Windows driver serves it."""
    container: str | None = None
    """The container runtime a report was made in (``docker``, ``podman``, ``apptainer``,
    ``kubernetes``), None outside one or for a typed target: a container that shows no GPU
    may only have been started without it."""
    gpus: tuple[str, ...] = ()
    """GPU names, for the comment block."""
    glibc: str | None = None
    """The machine's glibc (from its report or --glibc); None when not known, and then not
    judged."""
    cpu_flags: tuple[str, ...] | None = None
    """The CPU's instruction-set flags from a report (``avx``, ``avx2``, ...); None when not
    known (a typed target, a report that does not record them)."""
    origin: str = COMMAND_LINE
    """``this machine``, ``report FILE`` or ``the command line``."""
    driverless_gpus: tuple[str, ...] = ()
    """NVIDIA GPUs on the PCI bus while no NVIDIA driver is installed (``PCI 0000:01:00.0,
    device 0x26b9, no driver bound``): the machine needs a driver, not a CPU environment."""
    unread_driver: tuple[str, ...] = ()
    """Signs of an NVIDIA GPU with a driver whose version could not be read (``CUDA counts 1
    device``, ``PCI 0000:01:00.0, device 0x2684, bound to nvidia``): make-env cannot tell
    which CUDA that driver runs, and a CPU environment would be wrong."""
    installed_driver: str | None = None
    """A driver installed but not running (``driver.installed_module_version`` while none is
    loaded: e.g. an R590 that refuses a Pascal GPU), for the refusal's wording."""
    cluster: str | None = None
    """The compute nodes planned for (``partition gpu: nodes n[1-2] (h100)``), None for one
    machine: then the environment is created on another host than the one it runs on."""
    partition: str | None = None
    """The SLURM partition of those nodes, when one was named: the Regenerate line names it
    too, so that a file made again on the login node is still planned for the nodes."""
    unload_modules: tuple[str, ...] = ()
    """Loaded environment modules that put CUDA, cuDNN or NCCL on LD_LIBRARY_PATH."""
    left_out: tuple[str, ...] = ()
    """Why some nodes of a fleet are not planned for (an older driver than the one chosen):
    written as warnings."""
    other_gpus: tuple[str, ...] = ()
    """Frameworks of the report that use GPUs other than NVIDIA's (``PyTorch 2.9.1+rocm6.4
    sees the AMD GPU through ROCm``): make-env plans CUDA or CPU-only builds, so the
    environment it writes there uses none of them, and says so."""
    cc_renamed_from: str | None = None
    """The compute capability as typed when it was an older name of ``cc`` (Thor's 10.1,
    11.0 since CUDA 13.0): a driver that still says 10.1 predates the rename."""
    platform_note: str | None = None
    """Why the platform is not the default one, when the compute capability chose it (a GPU
    found only on linux-aarch64, with no --os/--arch/--wsl typed): the CLI says it."""

    @property
    def given(self) -> bool:
        """True when the target was typed (``--driver``/``--cc``), not read from a machine."""
        return self.origin == COMMAND_LINE

    @property
    def glibc_owner(self) -> str:
        """Whose glibc it is, for messages: ``report X``, or ``the target (--glibc)``."""
        return "the target (--glibc)" if self.given else self.origin

    @property
    def platform(self) -> str:
        """The conda subdir: ``linux-64``, ``linux-aarch64`` or ``win-64``."""
        platform = _PLATFORMS.get((self.os, self.arch))
        if platform is None:
            # a real platform (Windows on Arm) that nothing recorded runs on: nothing fits,
            # exit 1; the message says exactly why (docs/make-env.md, "Windows on Arm")
            raise PlanError(
                f"--os {self.os} --arch {self.arch} (Windows on Arm): no PyTorch or TensorFlow "
                "build for it is recorded: PyPI has no win_arm64 wheels of torch or tensorflow "
                "for any release or Python (checked 2026-12-07; pytorch/pytorch#154260), and "
                "PyTorch's own win_arm64 CPU wheels (download.pytorch.org/whl/cpu) and their "
                "torchvision are not confirmed for any release (none for Python 3.14: "
                "pytorch/pytorch#195033); under WSL2 on that machine, plan an arm64 Linux "
                "environment with --os linux --arch aarch64 --cpu"
            )
        return platform

    @property
    def driver_os(self) -> str:
        """The OS whose driver table applies (WSL2 runs the Windows driver)."""
        return "windows" if self.wsl or self.os == "windows" else "linux"

    @property
    def has_gpu(self) -> bool:
        """True when there is a driver to build for."""
        return self.driver is not None

    def describe(self, kb: KnowledgeBase) -> str:
        """One line naming the target, e.g. ``driver 535.104.05 (CUDA 12.2), CC 7.0 (Volta)``."""
        parts: list[str] = []
        if self.wsl1:
            parts.append("no GPU support")  # whatever driver Windows has: WSL 1 cannot use it
        elif self.driver is None:
            parts.append(
                "NVIDIA driver of unknown version" if self.unread_driver else "no NVIDIA driver"
            )
        else:
            max_cuda = kb.max_cuda_for_driver(self.driver, self.driver_os)
            # a branch the data does not know yet runs at least the newest CUDA it knows
            newer = " or newer" if max_cuda and kb.past_known_branches(self.driver) else ""
            parts.append(f"driver {self.driver} (CUDA {max_cuda or '< 10'}{newer})")
        if self.cc is not None:
            arch = kb.architecture(self.cc)
            parts.append(f"CC {self.cc}" + (f" ({arch.name})" if arch else ""))
        elif self.driver is not None:
            parts.append("CC unknown")
        parts.append(
            self.platform + (" under WSL2" if self.wsl else " under WSL 1" if self.wsl1 else "")
        )
        return ", ".join(parts)


def _unknown_cc(kb: KnowledgeBase, cc: str, cpu_way: str) -> str:
    """Why a compute capability the knowledge base lacks is refused."""
    oldest = min(kb.architectures, key=lambda a: parse_cc(a.cc))
    if parse_cc(cc) < parse_cc(oldest.cc):
        # Fermi (2.x) and Tesla (1.x) GPUs exist: "no GPU has it" sent their owners hunting
        # for a typing mistake
        first = min(kb.targets, key=lambda t: parse_cc(t.cuda_min))
        return (
            f"older than every GPU the knowledge base covers (the oldest is CC {oldest.cc}, "
            f"{oldest.name}): no CUDA it records (CUDA {first.cuda_min} and later) builds for "
            "it, so no PyTorch or TensorFlow GPU build runs on it; for a CPU-only "
            f"environment use {cpu_way} without --driver/--cc"
        )
    newest = max(kb.architectures, key=lambda a: parse_cc(a.cc))
    if parse_cc(cc) > parse_cc(newest.cc):
        # a GPU newer than the data (CC 13.0 in 2026-12): "no NVIDIA GPU has it" would be a
        # claim the knowledge base cannot make
        return (
            f"newer than every GPU the knowledge base knows (the newest is CC {newest.cc}, "
            f"{newest.name}; knowledge base as of {kb.as_of}): which driver, CUDA and builds "
            f"run it is not recorded; a newer gpudoctor may know it, or use {cpu_way} "
            "without --driver/--cc for a CPU-only environment"
        )
    # between known ones: a typing mistake (8.5), or a GPU the data lacks (the Tegra K1's 3.2)
    return (
        f"no GPU the knowledge base knows has this compute capability (knowledge base as of "
        f"{kb.as_of}); check the value: nvidia-smi --query-gpu=compute_cap --format=csv"
    )


def _platform_for_cc(
    kb: KnowledgeBase, typed: str, cc: str, os: str, arch: str, *, wsl: bool, chosen: bool
) -> tuple[str, str, str | None]:
    """The OS and CPU to plan for a GPU of ``cc``, and why when the CC chose them.

    Some GPUs exist only in machines of one platform (the knowledge base's ``platforms``:
    Jetson modules and GB10 are Arm systems on a chip). Left to the defaults, such a CC picks
    its platform; ``chosen`` (--os, --arch or --wsl typed) and another platform is a machine
    that cannot exist: refused.
    """
    row = kb.architecture(cc)
    if row is None or not row.platforms:
        return os, arch, None
    here = None if wsl else _PLATFORMS.get((os, arch))
    if here in row.platforms:
        return os, arch, None
    gpus = row.examples or row.name
    where = " or ".join(row.platforms)
    first = next(key for key, value in _PLATFORMS.items() if value == row.platforms[0])
    flags = f"--os {first[0]} --arch {first[1]}"
    if chosen:
        other = "under WSL2" if wsl else f"on {here or f'--os {os} --arch {arch}'}"
        raise BadInputError(
            f"--cc {typed} ({gpus}) is found only on {where} machines, not {other}: plan for it "
            f"with {flags}, or check --cc"
        )
    return first[0], first[1], f"CC {cc} ({gpus}) is found only on {where}: planning for {flags}"


def target_from_args(
    kb: KnowledgeBase,
    *,
    driver: str | None,
    cc: str | None,
    os: str | None = None,
    arch: str | None = None,
    wsl: bool = False,
    glibc: str | None = None,
    cpu_way: str = CPU_OPTION,
) -> Target:
    """A target given on the command line (``--driver 535.104.05 --cc 7.0``), validated.
    ``cpu_way`` is how its messages say to ask for a CPU-only environment (Request.cpu_way).

    ``os`` and ``arch`` default to ``linux`` and ``x86_64``, unless the GPU exists only on
    another platform (a Jetson's CC: ``linux-aarch64``). ``glibc`` is the machine's (``ldd
    --version``): a release whose wheels need a newer one (their manylinux tag) is then not
    planned, as for a machine read from a report.
    """
    chosen = os is not None or arch is not None or wsl
    os = "linux" if os is None else os
    arch = "x86_64" if arch is None else arch
    if driver is None and cc is not None:
        raise BadInputError("--cc needs --driver")
    if driver is not None and cc is None:
        raise BadInputError("--driver needs --cc (the lowest compute capability of the GPUs)")
    if os not in OSES:
        refuse_macos(os)
        raise BadInputError(f"--os {os}: use linux or windows")
    if arch not in ARCHES:
        raise BadInputError(f"--arch {arch}: use x86_64 or aarch64")
    if wsl and os != "linux":
        raise BadInputError("--wsl plans Linux packages: use it with --os linux")
    if driver is not None:
        try:
            parse_driver(driver)
        except BadInputError:
            raise BadInputError(
                f"--driver {driver}: not a driver version like 535.104.05"
            ) from None
        if "." not in driver:
            # A branch alone compares below every driver of it (580 < 580.65.06), so R580 would
            # be planned as CUDA 12.9 and R535 as 12.1: ask for what nvidia-smi prints.
            raise BadInputError(
                f"--driver {driver}: give the full version nvidia-smi prints, like 535.104.05 "
                "(a branch alone does not say which CUDA it runs)"
            )
    norm_glibc: str | None = None
    if glibc is not None:
        if os != "linux":
            raise BadInputError(f"--glibc {glibc}: glibc is for a Linux target (--os linux)")
        try:
            major, minor = major_minor(glibc, "glibc version", "2.28")
            if glibc.count(".") > 2:  # major_minor takes 2.28.1.2 as 2.28: said, never cut
                raise BadInputError(glibc)
        except BadInputError:
            raise BadInputError(f"--glibc {glibc}: not a glibc version like 2.28") from None
        norm_glibc = f"{major}.{minor}"
    norm_cc: str | None = None
    old_name: str | None = None
    if cc is not None:
        try:
            norm_cc = cc_text(parse_cc(cc))
        except BadInputError:
            raise BadInputError(f"--cc {cc}: not a compute capability like 8.6") from None
        # Thor's 10.1, as CUDA 12.8/12.9 and their drivers print it, is 11.0 since CUDA 13.0:
        # refused, it read "no NVIDIA GPU has this compute capability"
        old_name = norm_cc if norm_cc in kb.arch_rules.renamed else None
        norm_cc = kb.arch_rules.renamed.get(norm_cc, norm_cc)
        if not kb.is_known_cc(norm_cc):
            raise BadInputError(f"--cc {cc}: {_unknown_cc(kb, norm_cc, cpu_way)}")
    note = None
    if norm_cc is not None:
        os, arch, note = _platform_for_cc(
            kb, cc or norm_cc, norm_cc, os, arch, wsl=wsl, chosen=chosen
        )
    target = Target(
        driver=driver,
        cc=norm_cc,
        os=os,
        arch=arch,
        wsl=wsl,
        glibc=norm_glibc,
        cc_renamed_from=old_name,
        platform_note=note,
    )
    _ = target.platform  # Windows on Arm: no recorded builds (exit 1, says why)
    return target


def _lowest_cc(report: Report) -> str | None:
    ccs = []
    for gpu in report.nvml.gpus:
        if gpu.compute_capability and not gpu.lost:
            try:
                ccs.append(parse_cc(gpu.compute_capability))
            except BadInputError:
                continue
    return cc_text(min(ccs)) if ccs else None


def _gpu_functions(report: Report) -> list[PciFunction]:
    """The NVIDIA display/3D controllers (PCI class 0x03), not the GPUs' audio or USB parts."""
    return [fn for fn in report.driver.pci_functions if is_gpu_function(fn)]


def _driverless_gpus(report: Report) -> tuple[str, ...]:
    """The NVIDIA GPUs no NVIDIA driver has taken and no virtual machine holds.

    A GPU bound to a passthrough or stub driver (:func:`set_aside_for_vm`) is set aside for a
    virtual machine, so this host is not meant to use it; it is left out.
    """
    found = []
    for fn in _gpu_functions(report):
        if fn.driver == "nvidia" or set_aside_for_vm(fn.driver):
            continue
        bound = f"bound to {fn.driver}" if fn.driver else "no driver bound"
        found.append(f"PCI {fn.address}, device {fn.device_id}, {bound}")
    return tuple(found)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _driver_signs(report: Report) -> tuple[str, ...]:
    """Signs in the report that an NVIDIA driver runs a GPU here, whatever its version."""
    found = []
    listed = report.nvml.gpus if report.nvml.status == "ok" else ()
    if listed:
        found.append(f"NVML lists {_plural(len(listed), 'GPU')}")
    found += [
        f"PCI {fn.address}, device {fn.device_id}, bound to nvidia"
        for fn in _gpu_functions(report)
        if fn.driver == "nvidia"
    ]
    if report.cuda.device_count:
        found.append(f"CUDA counts {_plural(report.cuda.device_count, 'device')}")
    if (
        report.host.wsl
        and wsl_name(report) != "WSL 1"  # no GPU there at all, whatever NVML answers
        and report.nvml.status not in ("ok", "library_not_found")
    ):
        # WSL2 shows no GPU on the PCI bus: an NVIDIA NVML that is there but failed is the sign
        found.append(
            f"under WSL an NVIDIA NVML is installed but answered {report.nvml.status} (the "
            "Windows driver's version: nvidia-smi.exe in PowerShell)"
        )
    for fw in report.frameworks:
        if fw.gpu_backend:
            continue  # a ROCm build lists AMD GPUs through torch.cuda: no NVIDIA driver's sign
        if fw.status == "ok" and (fw.device_count or fw.cuda_available):
            seen = _plural(fw.device_count, "GPU") if fw.device_count else "a GPU"
            found.append(f"{_FRAMEWORK_NAMES.get(fw.name, fw.name)} sees {seen}")
    return tuple(found)


def _unreadable_versions(report: Report) -> tuple[str, ...]:
    """Driver versions the report holds in a form make-env cannot read."""
    return tuple(
        f"{where} says driver {value!r}"
        for where, value in (
            ("NVML", report.nvml.driver_version),
            ("the kernel module", report.driver.module_version),
        )
        if value and not _readable(value)
    )


def _readable(driver: str) -> bool:
    try:
        parse_driver(driver)
    except BadInputError:
        return False
    return True


_MAC_NAMES = ("darwin", "macos", "mac", "osx")
"""What a student on a Mac may type for --os."""


def refuse_macos(os: str) -> None:
    """Refuse ``--os darwin`` (or macos, mac, osx, any case) with the next step: "use linux or
    windows" left a student on a Mac without one."""
    if os.lower() in _MAC_NAMES:
        raise BadInputError(
            f"--os {os}: make-env plans CUDA and CPU-only environments for linux or windows, "
            "none for macOS; on a Mac, PyPI's torch can use the Apple GPU through MPS "
            "(`python3 -m pip install torch`)"
        )


def mac_refusal(origin: str, command: str) -> str:
    """Why make-env (and onboard, which runs it) plans nothing for a Mac, and what to do."""
    return (
        f"{origin} is a Mac: {command} plans CUDA and CPU-only environments for Linux and "
        "Windows; on a Mac, PyPI's torch can use the Apple GPU through MPS (`python3 -m pip "
        "install torch`); for a Linux GPU server give its driver and GPU: "
        + (
            "--os linux --driver VERSION --cc X.Y"
            if command == "make-env"
            else "gpudoctor make-env --os linux --driver VERSION --cc X.Y"
        )
    )


def target_from_report(report: Report, origin: str) -> Target:
    """The machine a report describes: driver from NVML (else the kernel module), lowest CC."""
    driver = next(
        (
            value.strip()  # as parse_driver reads it: no stray newline reaches the file
            for value in (report.nvml.driver_version, report.driver.module_version)
            if value and _readable(value)
        ),
        None,
    )
    if report.host.os == "darwin":
        # "plans Linux and Windows" left a student on a Mac without a next step
        raise BadInputError(mac_refusal(origin, "make-env"))
    if report.host.os not in OSES:
        raise BadInputError(f"{origin} is from {report.host.os}: make-env plans Linux and Windows")
    os = report.host.os
    arch = report.host.arch if report.host.arch in ARCHES else "x86_64"
    names = tuple(g.name for g in report.nvml.gpus if g.name)
    signs = _driver_signs(report) if driver is None else ()
    return Target(
        driver=driver,
        cc=_lowest_cc(report),
        os=os,
        arch=arch,
        wsl=report.host.wsl and wsl_name(report) != "WSL 1",
        wsl1=wsl_name(report) == "WSL 1",
        container=report.host.container,
        gpus=names,
        glibc=report.host.glibc,
        cpu_flags=report.host.cpu_flags,
        origin=origin,
        driverless_gpus=_driverless_gpus(report) if driver is None and not signs else (),
        installed_driver=(
            report.driver.installed_module_version.strip()
            if driver is None
            and report.driver.installed_module_version
            and _readable(report.driver.installed_module_version)
            else None
        ),
        unread_driver=(*signs, *_unreadable_versions(report)) if signs else (),
        other_gpus=other_gpus_words(report) if driver is None else (),
    )


def other_gpus_words(report: Report) -> tuple[str, ...]:
    """``PyTorch 2.9.1+rocm6.4 sees 1 AMD GPU through ROCm``, for each framework that does."""
    found = []
    for fw in other_gpu_builds(report):
        name = f"{_FRAMEWORK_NAMES.get(fw.name, fw.name)} {fw.version or ''}".rstrip()
        gpus = _plural(fw.gpu_backend_devices or 0, f"{OTHER_GPU_MAKERS[fw.gpu_backend or '']} GPU")
        found.append(f"{name} sees {gpus} through {'ROCm' if fw.gpu_backend == 'rocm' else 'XPU'}")
    return tuple(found)
