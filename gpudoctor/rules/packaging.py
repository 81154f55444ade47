"""Packaging conflicts in one environment: two CUDA majors, unmet nvidia-* pins, mixed cuDNN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement

from gpudoctor.model import shell
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkInfo, PackageInfo, Report
from gpudoctor.rules.distro import package_owning
from gpudoctor.rules.facts import canonical_name, env, nvidia_wheel_stem, requirement, version
from gpudoctor.rules.framework_build import label
from gpudoctor.rules.messages import classify, quote
from gpudoctor.rules.registry import Hit, KnowledgeBase, framework_rule, rule

_CU = re.compile(r"-cu(\d+)$")

# The nvidia-* wheel (without its -cuXX suffix) whose library defines symbols of each prefix.
SYMBOL_WHEELS: tuple[tuple[str, str], ...] = (
    ("nccl", "nvidia-nccl"),
    ("cudnn", "nvidia-cudnn"),
    ("nvjitlink", "nvidia-nvjitlink"),
    ("cusparse", "nvidia-cusparse"),
    ("cublas", "nvidia-cublas"),
    ("cupti", "nvidia-cuda-cupti"),
    ("cufft", "nvidia-cufft"),
    ("curand", "nvidia-curand"),
    ("cusolver", "nvidia-cusolver"),
    ("nvrtc", "nvidia-cuda-nvrtc"),
)


def wheel_for_symbol(symbol: str) -> str | None:
    """``ncclCommRegister`` -> ``nvidia-nccl``; ``__nvJitLinkComplete_12_4`` -> the nvJitLink
    wheel; None for a symbol of no known NVIDIA library."""
    name = symbol.lstrip("_").lower()
    return next((stem for prefix, stem in SYMBOL_WHEELS if name.startswith(prefix)), None)


def cuda_major(name: str) -> str | None:
    """``nvidia-nccl-cu12`` -> ``12``."""
    match = _CU.search(canonical_name(name))
    return match.group(1) if match else None


def _failed(fw: FrameworkInfo) -> bool:
    return fw.status in ("import_error", "crashed")


# --- two CUDA majors of one library -----------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """One NVIDIA library installed as wheels of two (or more) CUDA majors."""

    stem: str
    wheels: tuple[PackageInfo, ...]


def split_majors(report: Report) -> list[Split]:
    """The libraries installed as ``nvidia-<lib>-cuXX`` wheels of more than one CUDA major."""
    by_stem: dict[str, list[PackageInfo]] = {}
    for wheel in report.cuda.nvidia_wheels:
        if cuda_major(wheel.name):
            by_stem.setdefault(nvidia_wheel_stem(wheel.name), []).append(wheel)
    return [
        Split(stem, tuple(sorted(wheels, key=lambda w: w.name)))
        for stem, wheels in sorted(by_stem.items())
        if len({cuda_major(w.name) for w in wheels}) > 1
    ]


def _framework_major(fw: FrameworkInfo, stem: str) -> str | None:
    """The CUDA major of ``stem`` that ``fw`` needs: from its Requires-Dist on that library,
    else its build's CUDA, else its version's local label (``+cu130``)."""
    for line in fw.requires:
        try:
            name = Requirement(line).name
        except InvalidRequirement:
            continue
        if nvidia_wheel_stem(name) == stem and cuda_major(name):
            return cuda_major(name)
    if fw.build_cuda:
        return fw.build_cuda.split(".")[0]
    local = re.search(r"\+cu(\d\d)\d$", fw.version or "")
    return local.group(1) if local else None


def wanted_majors(report: Report, stem: str) -> dict[str, list[FrameworkInfo]]:
    """Each CUDA major of ``stem`` that an installed framework needs, with those frameworks."""
    wanted: dict[str, list[FrameworkInfo]] = {}
    for fw in report.frameworks:
        if fw.status in ("not_installed", "not_probed", "skipped"):
            continue
        major = _framework_major(fw, stem)
        if major:
            wanted.setdefault(major, []).append(fw)
    return wanted


def removal_fix(report: Report, split: Split) -> list[str]:
    """Uninstall the wheels of the majors no framework needs, then reinstall the kept one (the
    wheels of two majors may write the same files, and uninstalling one removes them)."""
    wanted = wanted_majors(report, split.stem)
    if len(wanted) != 1:
        return [
            f"$ pip uninstall -y {shell.word(w.name, 'NAME')}   # if your framework is not a CUDA "
            f"{cuda_major(w.name)} build"
            for w in split.wheels
        ] + (["or keep the frameworks in separate environments"] if len(wanted) > 1 else [])
    (major, users) = next(iter(wanted.items()))
    drop = [w for w in split.wheels if cuda_major(w.name) != major]
    keep = [w for w in split.wheels if cuda_major(w.name) == major]
    who = ", ".join(label(fw) for fw in users)
    names = " ".join(shell.word(w.name, "NAME") for w in drop)
    fix = [f"$ pip uninstall -y {names}   # {who} uses CUDA {major}"]
    fix += [
        "$ pip install --force-reinstall --no-deps "
        f"{shell.matching(w.name, shell.PACKAGE, 'NAME')}=="
        f"{shell.matching(w.version, shell.VERSION, 'VERSION')}"
        for w in keep
    ]
    return fix


def _symbol_failure(report: Report, kb: KnowledgeBase, stem: str) -> list[str]:
    """Framework failures about ``stem``'s library: an undefined symbol of it, mixed cuDNN."""
    found = []
    for fw in report.frameworks:
        for c in classify(fw, kb):
            symbol = c.match.groups.get("symbol")
            if (symbol and wheel_for_symbol(symbol) == stem) or (
                c.cause == "cudnn_mixed" and stem == "nvidia-cudnn"
            ):
                found.append(f"{label(fw)}: {quote(c.message)}")
    return found


@rule(
    "GD-CUDA-031",
    area="cuda",
    severity=Severity.WARNING,
    severities=(Severity.ERROR, Severity.WARNING),
    title="One NVIDIA library is installed for two CUDA majors side by side",
    why="NVIDIA's wheels carry the CUDA major in their name (`nvidia-nccl-cu12`, "
    "`nvidia-nccl-cu13`), so pip installs both when two packages ask for different majors, "
    "and nothing says which copy the framework's libraries load: PyTorch then fails with "
    "`undefined symbol: ncclCommResume` (or `ncclMemFree`, `ncclCommRegister`). gpudoctor "
    "lists the installed `nvidia-*` wheels and groups them by library. An error when a "
    "framework's import or GPU computation failed on that library (or any import failed), "
    "a warning otherwise. The fix names the wheel to remove: the major the framework does not "
    "use (from its Requires-Dist, its build's CUDA or its `+cuXXX` version).",
    fix="Uninstall the wheel of the CUDA major the framework does not use (`pip uninstall "
    "nvidia-nccl-cu12` next to a CUDA 13 PyTorch), then reinstall the one kept, as both may "
    "have written the same files.",
    sources=(
        "https://github.com/pytorch/pytorch/issues/186591 (nvidia-nccl-cu12 next to "
        "nvidia-nccl-cu13: uninstall nvidia-nccl-cu12)",
        "https://github.com/rwth-i6/returnn/issues/1802 (nvidia-nccl-cu11 next to cu12)",
        "https://github.com/VichyTong/CodeJudge/issues/2 (cu11 packages removed)",
    ),
)
def two_majors(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    failed = [fw for fw in report.frameworks if _failed(fw)]
    for split in split_majors(report):
        evidence = [
            " and ".join(f"{w.name} {w.version}" for w in split.wheels) + " are both installed"
        ]
        wanted = wanted_majors(report, split.stem)
        evidence += [
            f"{', '.join(label(fw) for fw in users)} uses CUDA {major}"
            for major, users in wanted.items()
        ]
        broke = _symbol_failure(report, kb, split.stem)
        evidence += broke
        if not broke:
            evidence += [f"{label(fw)} fails to import: {quote(fw.message)}" for fw in failed]
        yield Hit(
            severity=Severity.ERROR if broke or failed else Severity.WARNING,
            title=f"{' and '.join(w.name for w in split.wheels)} are both installed: two "
            "CUDA majors of one library",
            evidence=tuple(evidence),
            fix=tuple(removal_fix(report, split)),
        )


# --- Requires-Dist on nvidia-* wheels that the environment does not satisfy -------------------


def marker_env(report: Report, fw: FrameworkInfo) -> dict[str, str]:
    """The PEP 508 marker environment of the inspected interpreter, from the report."""
    py = fw.python_version or report.host.python.version
    parts = py.split(".")
    system = {"linux": "Linux", "windows": "Windows", "darwin": "Darwin"}.get(report.host.os, "")
    return {
        "implementation_name": "cpython",
        "implementation_version": py,
        "os_name": "nt" if report.host.os == "windows" else "posix",
        "platform_machine": "AMD64"
        if report.host.os == "windows" and report.host.arch == "x86_64"
        else report.host.arch,
        "platform_python_implementation": "CPython",
        "platform_release": report.host.kernel or "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": py,
        "python_version": ".".join(parts[:2]),
        "sys_platform": {"linux": "linux", "windows": "win32", "darwin": "darwin"}.get(
            report.host.os, report.host.os
        ),
        "extra": "",
    }


@dataclass(frozen=True)
class Unmet:
    """A framework's Requires-Dist line that the installed wheels do not satisfy."""

    framework: FrameworkInfo
    requirement: Requirement
    installed: str

    @property
    def text(self) -> str:
        return (
            f"{label(self.framework)} requires {self.requirement.name}"
            f"{self.requirement.specifier}; {self.installed} is installed"
        )

    @property
    def fix(self) -> str:
        return (
            f"$ pip install '{self.requirement.name}{self.requirement.specifier}'   "
            f"# what {label(self.framework)} requires"
        )


@lru_cache(maxsize=4096)
def _applying(line: str, marker: tuple[tuple[str, str], ...]) -> Requirement | None:
    """The requirement ``line`` where its marker holds in ``marker`` and it is no cuDNN pin.

    Cached: every node of a fleet lists the same few dozen Requires-Dist lines, and parsing
    one (packaging's tokenizer) cost more than the rest of the rule.
    """
    req = requirement(line)
    if req is None:
        return None
    try:
        applies = req.marker is None or req.marker.evaluate(dict(marker))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return None
    if not applies or nvidia_wheel_stem(req.name) == "nvidia-cudnn":
        return None
    return req


def unmet_requirements(report: Report, fw: FrameworkInfo) -> list[Unmet]:
    """``fw``'s nvidia-* requirements that an installed wheel of that name does not satisfy;
    cuDNN's are left to GD-CUDA-008. A wheel that is not installed is not counted: the CUDA
    probe lists the wheels of the inspected environment's own folders only."""
    installed = {canonical_name(w.name): w.version for w in report.cuda.nvidia_wheels}
    found: list[Unmet] = []
    marker = tuple(sorted(marker_env(report, fw).items()))
    for line in fw.requires:
        req = _applying(line, marker)
        if req is None:
            continue
        have = installed.get(canonical_name(req.name))
        parsed = version(have)
        if have and parsed is not None and not req.specifier.contains(parsed, prereleases=True):
            found.append(Unmet(fw, req, have))
    return found


@rule(
    "GD-CUDA-032",
    area="cuda",
    severity=Severity.WARNING,
    severities=(Severity.ERROR, Severity.WARNING),
    title="An installed nvidia-* wheel is not the version the framework requires",
    why="A PyTorch or TensorFlow wheel pins its `nvidia-*` wheels exactly (`Requires-Dist: "
    "nvidia-nccl-cu12==2.19.3`). Installing another package afterwards (or `pip install "
    "--no-deps`, or a second framework) can leave an older or newer one in the environment; "
    "the framework then loads a library it was not built with and fails on an undefined "
    "symbol (`ncclCommRegister` with PyTorch 2.2 and nvidia-nccl-cu12 2.18). gpudoctor reads "
    "the framework's Requires-Dist lines (also when its import failed), evaluates their "
    "markers for the inspected interpreter and compares them with the installed wheels. cuDNN "
    "pins are GD-CUDA-008's. An error when the framework failed to import, a warning otherwise.",
    fix="Install the version the framework requires (`pip install 'nvidia-nccl-cu12==2.19.3'`), "
    "or remove the package that pulled another one in.",
    sources=(
        "https://github.com/pytorch/pytorch/issues/119932 (another package provides an "
        "incompatible NCCL)",
        "https://github.com/vllm-project/vllm/issues/4195 (PyTorch 2.2 with "
        "nvidia-nccl-cu12==2.18)",
        "https://packaging.python.org/en/latest/specifications/dependency-specifiers/",
    ),
)
def requirement_unmet(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for fw in report.frameworks:
        unmet = unmet_requirements(report, fw)
        if not unmet:
            continue
        evidence = [u.text for u in unmet]
        if _failed(fw):
            evidence.append(f"{label(fw)} fails to import: {quote(fw.message)}")
        yield Hit(
            severity=Severity.ERROR if _failed(fw) else Severity.WARNING,
            title=f"{label(fw)} requires "
            + ", ".join(f"{u.requirement.name}{u.requirement.specifier}" for u in unmet)
            + ": not what is installed",
            evidence=tuple(evidence),
            fix=tuple(u.fix for u in unmet),
        )


def symbol_fix(report: Report, fw: FrameworkInfo, symbol: str) -> tuple[list[str], list[str]]:
    """What the report shows about the library behind an undefined ``symbol``, and the fix that
    names the package (or folder) to remove; empty lists when it shows nothing."""
    stem = wheel_for_symbol(symbol)
    evidence: list[str] = []
    fix: list[str] = []
    if stem is not None:
        wheels = [w for w in report.cuda.nvidia_wheels if nvidia_wheel_stem(w.name) == stem]
        split = next((s for s in split_majors(report) if s.stem == stem), None)
        unmet = [
            u
            for u in unmet_requirements(report, fw)
            if nvidia_wheel_stem(u.requirement.name) == stem
        ]
        if split is not None:
            evidence.append(
                " and ".join(f"{w.name} {w.version}" for w in split.wheels)
                + " are both installed (GD-CUDA-031)"
            )
            fix += removal_fix(report, split)
        elif unmet:
            evidence += [f"{u.text} (GD-CUDA-032)" for u in unmet]
            fix += [u.fix for u in unmet]
        elif wheels:
            evidence.append(
                f"{symbol} belongs to {stem}; installed: "
                + ", ".join(f"{w.name} {w.version}" for w in wheels)
            )
    path = env(report, "LD_LIBRARY_PATH")
    if path and not fix:
        evidence.append(f"LD_LIBRARY_PATH={path!r}")
        fix.append("$ unset LD_LIBRARY_PATH   # then try the import again (see GD-CUDA-007)")
    return evidence, fix


# --- cuDNN from two installs in one process ---------------------------------------------------

_WHEEL_DIR = re.compile(r"/(?:site|dist)-packages/nvidia/")
_SO_MAJOR = re.compile(r"\.so\.(\d+)")


def _cudnn_folders(fw: FrameworkInfo) -> dict[str, list[str]]:
    """The folders the framework's process mapped cuDNN files from, each with its files."""
    return {folder: list(files) for folder, files in _cudnn_files(fw.loaded_libraries)}


@lru_cache(maxsize=256)  # three rules ask it of each framework of every node in a fleet
def _cudnn_files(loaded: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    folders: dict[str, list[str]] = {}
    for path in loaded:
        if path.rpartition("/")[2].lower().startswith("libcudnn"):  # cheap test first
            where = PurePosixPath(path)
            folders.setdefault(str(where.parent), []).append(where.name)
    return tuple((folder, tuple(files)) for folder, files in folders.items())


def _folder_fix(report: Report, folder: str, files: list[str]) -> str:
    dirs = [d for d in (env(report, "LD_LIBRARY_PATH") or "").split(":") if d]
    if folder in [d.rstrip("/") for d in dirs]:
        keep = [d for d in dirs if d.rstrip("/") != folder]
        if not keep:
            return "$ unset LD_LIBRARY_PATH"
        return f"$ export {shell.assignment('LD_LIBRARY_PATH', ':'.join(keep), 'FOLDERS')}"
    return (
        f"{package_owning(report, f'{folder}/{files[0]}')}   # the system package that put it "
        "there; remove it if nothing else needs it"
    )


@rule(
    "GD-CUDA-033",
    area="cuda",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="cuDNN files from two installs are mixed in one process",
    why="cuDNN is a set of libraries (`libcudnn.so.9` opens `libcudnn_graph`, "
    "`libcudnn_engines_*`, `libcudnn_cnn` ... by name at run time). When the framework's "
    "cuDNN wheel lacks one of them, or a folder on `LD_LIBRARY_PATH` holds another cuDNN, "
    "the loader takes that one from the other install, and the process holds cuDNN files of "
    "two versions or CUDA majors: the import works, and the first convolution fails "
    "(`CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH`, `Could not load library "
    "libcudnn_cnn_train.so.8 ... undefined symbol`) or crashes. The framework probes record "
    "every cuDNN file their process mapped after a convolution on each GPU; an error when "
    "the convolution failed or the message names it, a warning when it still ran.",
    fix="Keep one cuDNN in the process: drop the other install's folder from "
    "`LD_LIBRARY_PATH`, remove the system package that holds it, or upgrade the cuDNN wheel "
    "to one that ships every sub-library.",
    sources=(
        "https://github.com/pytorch/pytorch/issues/185512 (F.conv2d: "
        "CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH, one engine from /lib/x86_64-linux-gnu)",
        "https://github.com/pytorch/pytorch/issues/188892",
        "https://github.com/pytorch/pytorch/issues/119989 (unset LD_LIBRARY_PATH)",
        "https://github.com/pytorch/pytorch/issues/104808 (cuDNN 8.8 and 8.9 files mixed)",
    ),
)
def cudnn_mixed(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    for fw in report.frameworks:
        folders = _cudnn_folders(fw)
        said = [c for c in classify(fw, kb) if c.cause == "cudnn_mixed"]
        if len(folders) < 2 and not said:
            continue
        evidence = [
            f"{label(fw)} mapped cuDNN from {folder}: {', '.join(files)}"
            for folder, files in folders.items()
        ]
        majors = sorted(
            {m.group(1) for files in folders.values() for f in files if (m := _SO_MAJOR.search(f))}
        )
        if len(majors) > 1:
            evidence.append(f"cuDNN {' and '.join(majors)} files in one process")
        evidence += [f"{label(fw)}: {quote(c.message)}" for c in said]
        failures = [
            f"GPU {d.index}: {quote(d.conv_error or d.smoke_error or '')}"
            for d in fw.devices
            if d.conv_ok is False or d.smoke_ok is False
        ]
        evidence += [f for f in failures if not any(f.endswith(quote(c.message)) for c in said)]
        foreign = {f: files for f, files in folders.items() if not _WHEEL_DIR.search(f + "/")}
        fix = (
            [_folder_fix(report, f, files) for f, files in foreign.items()]
            if len(folders) > 1
            else []
        )
        wheels = [
            w for w in report.cuda.nvidia_wheels if nvidia_wheel_stem(w.name) == "nvidia-cudnn"
        ]
        fix += [line for c in said for line in c.match.fix]
        if wheels:
            fix.append(
                f"or upgrade the cuDNN wheel: $ pip install -U {shell.word(wheels[0].name, 'NAME')}"
            )
        yield Hit(
            severity=Severity.ERROR if said or failures else Severity.WARNING,
            title=f"{label(fw)} mixes cuDNN files from "
            + (f"{len(folders)} places" if len(folders) > 1 else "two installs"),
            evidence=tuple(evidence),
            fix=tuple(dict.fromkeys(fix)),
        )


# --- a convolution that fails -----------------------------------------------------------------


def cudnn_pin(fw: FrameworkInfo) -> str | None:
    """The cuDNN wheel requirement the framework declares (``nvidia-cudnn-cu12==9.10.2.21``)."""
    for line in fw.requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if nvidia_wheel_stem(req.name) == "nvidia-cudnn":
            return f"{req.name}{req.specifier}"
    return None


# The oldest cuDNN wheel on PyPI per CUDA major (pip index versions nvidia-cudnn-cu11, -cu12,
# -cu13, read 2026-12-07: 8.5.0.96, 8.8.0.121, 9.12.0.46): a build with an older cuDNN (e.g.
# TensorFlow 2.10's 8.1) has no wheel to pin, only conda-forge's cudnn package.
_OLDEST_CUDNN_WHEEL = {"11": (8, 5), "12": (8, 8), "13": (9, 12)}


def cudnn_install(fw: FrameworkInfo) -> str:
    """pip's command for the cuDNN the build needs: the wheel the framework pins when that is
    the cuDNN it was built with, else that version's newest wheel (``==8.7.0.*``: the wheels
    carry a fourth number, 8.7.0.84, which a bare ``==8.7.0`` does not match). GD-TORCH-011
    and GD-CUDA-011 both give it: one report's two findings named 8.7.0.84 and 8.7.0.*."""
    pin = cudnn_pin(fw)
    build = fw.build_cudnn or ""
    if pin is not None and pin.partition("==")[2].startswith(f"{build}."):
        return f"$ pip install '{pin}'   # the cuDNN {label(fw)} pins"
    major = shell.matching((fw.build_cuda or "12").split(".")[0], shell.VERSION, "NN")
    built = f"the cuDNN {label(fw)} was built with"
    parts = tuple(int(p) for p in re.findall(r"\d+", build)[:2])
    oldest = _OLDEST_CUDNN_WHEEL.get(major)
    if oldest is not None and parts and parts < oldest:
        return (
            f"In a conda environment: $ conda install -c conda-forge "
            f"'cudnn={shell.matching(build, shell.VERSION, 'VERSION')}'   # {built}; "
            f"no nvidia-cudnn-cu{major} wheel is older than {oldest[0]}.{oldest[1]}"
        )
    version = shell.matching(build, shell.VERSION, "VERSION")
    return f"$ pip install 'nvidia-cudnn-cu{major}=={version}.*'   # {built}"


_CONV = (
    "$ python -c \"import torch; x = torch.randn(1, 4, 8, 8, device='cuda'); "
    "print(torch.nn.functional.conv2d(x, torch.randn(4, 4, 3, 3, device='cuda')).sum())\""
)


@framework_rule(
    {"torch": "GD-TORCH-018"},
    severity=Severity.ERROR,
    title="{fw} loads cuDNN but a convolution on the GPU fails",
    why="The {fw} probe runs a small 2-D convolution on each GPU with cuDNN enabled and compares "
    "it with the CPU's (as the TensorFlow probe does). A matrix product does not touch cuDNN, "
    "so a cuDNN that loads but cannot run (a sub-library missing from the wheel, a file of "
    "another version, a cuDNN too old for the GPU) is seen only here. Mixed cuDNN files are "
    "GD-CUDA-033's; a GPU whose matrix product also failed is GD-TORCH-010's.",
    fix="Reinstall the cuDNN wheel {fw} pins (`pip install --force-reinstall "
    "nvidia-cudnn-cu12==VERSION`) and keep other cuDNN folders off `LD_LIBRARY_PATH`.",
    sources=(
        "https://github.com/pytorch/pytorch/issues/185512 (F.conv2d fails while the import works)",
        "https://github.com/pytorch/pytorch/issues/104808",
    ),
)
def conv_failed(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status != "ok":
        return
    mixed = any(c.cause == "cudnn_mixed" for c in classify(fw, kb)) or len(_cudnn_folders(fw)) > 1
    if mixed:
        return  # GD-CUDA-033 names the two installs
    for dev in fw.devices:
        if dev.conv_ok is not False or dev.smoke_ok is False:
            continue
        evidence = [f"GPU {dev.index} ({dev.name or '?'}): the convolution failed"]
        if dev.conv_error:
            evidence.append(f"error: {quote(dev.conv_error)}")
        evidence.append(
            f"built with cuDNN {fw.build_cudnn or '?'}; loaded {fw.cudnn_runtime or '?'}"
            + (
                f" from {fw.cudnn_library.path}"
                if fw.cudnn_library and fw.cudnn_library.path
                else ""
            )
        )
        pin = cudnn_pin(fw)
        fix = (
            [f"$ pip install --force-reinstall '{pin}'   # the cuDNN {label(fw)} pins"]
            if pin
            else []
        )
        yield Hit(
            title=f"{label(fw)}: a convolution fails on GPU {dev.index} although cuDNN loads",
            evidence=tuple(evidence),
            fix=(*fix, _CONV),
        )
