"""CUDA library rules: LD_LIBRARY_PATH shadowing pip's nvidia-* libraries, clashing cuDNN pins."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from packaging.requirements import Requirement
from packaging.version import Version

from gpudoctor.model import shell
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkInfo, LoadedModule, Report
from gpudoctor.rules.distro import package_owning
from gpudoctor.rules.facts import (
    canonical_name,
    env,
    make_env_command,
    nvidia_wheel_stem,
    requirement,
    version,
)
from gpudoctor.rules.packaging import cudnn_install
from gpudoctor.rules.registry import FRAMEWORK_NAMES, Hit, KnowledgeBase, rule

# The pip wheel (without its -cuXX suffix) that ships each CUDA library.
WHEEL_FOR_LIBRARY: dict[str, str] = {
    "cudart": "nvidia-cuda-runtime",
    "cublas": "nvidia-cublas",
    "cublaslt": "nvidia-cublas",
    "cudnn": "nvidia-cudnn",
    "nvrtc": "nvidia-cuda-nvrtc",
    "nvjitlink": "nvidia-nvjitlink",
    "cufft": "nvidia-cufft",
    "cusparse": "nvidia-cusparse",
    "cusolver": "nvidia-cusolver",
    "curand": "nvidia-curand",
    "nccl": "nvidia-nccl",
    "cupti": "nvidia-cuda-cupti",
}

_SONAME = re.compile(r"^lib([a-zA-Z]+?)(?:64_\d+)?\.so")


_LONGEST_FIRST = sorted(WHEEL_FOR_LIBRARY, key=len, reverse=True)


@functools.lru_cache(maxsize=1024)  # the same paths on every node of a fleet
def library_of(path: str) -> str | None:
    """``/x/libcublasLt.so.12`` -> ``cublaslt``; the names WHEEL_FOR_LIBRARY knows."""
    match = _SONAME.match(PurePosixPath(path).name)
    if not match:
        return None
    name = match.group(1).lower()
    for known in _LONGEST_FIRST:
        if name.startswith(known):
            return known
    return None


@dataclass(frozen=True)
class Shadow:
    """A CUDA library taken from LD_LIBRARY_PATH although a pip wheel in the env ships it."""

    library: str
    path: str
    wheel: str
    who: str


def shadowed_libraries(report: Report) -> list[Shadow]:
    """Libraries resolved through LD_LIBRARY_PATH that an installed nvidia-* wheel provides."""
    wheels = {nvidia_wheel_stem(w.name): f"{w.name} {w.version}" for w in report.cuda.nvidia_wheels}
    dirs = [d.rstrip("/") for d in (env(report, "LD_LIBRARY_PATH") or "").split(":") if d]
    found: list[Shadow] = []
    for lib in report.cuda.libraries:
        wheel = wheels.get(WHEEL_FOR_LIBRARY.get(lib.name, ""))
        if wheel and lib.origin == "ld_library_path":
            found.append(Shadow(lib.name, lib.path or lib.soname or lib.name, wheel, "the loader"))
    for fw in report.frameworks if dirs else ():  # no LD_LIBRARY_PATH: nothing taken from it
        for path in fw.loaded_libraries:
            name = library_of(path)
            wheel = wheels.get(WHEEL_FOR_LIBRARY.get(name or "", ""))
            if not (name and wheel) or "site-packages/nvidia" in path:
                continue
            if str(PurePosixPath(path).parent) in dirs:
                found.append(Shadow(name, path, wheel, FRAMEWORK_NAMES.get(fw.name, fw.name)))
    return found


@rule(
    "GD-CUDA-007",
    area="cuda",
    severity=Severity.WARNING,
    severities=(Severity.ERROR, Severity.WARNING),
    title="LD_LIBRARY_PATH shadows the CUDA libraries installed with pip",
    why="PyTorch and TensorFlow wheels bring their CUDA libraries as `nvidia-*` pip wheels and "
    "find them by RPATH, but the loader searches `LD_LIBRARY_PATH` first. A system CUDA there "
    "(`/usr/local/cuda/lib64`) replaces some libraries with other versions, which fails with "
    "errors like `libcusparse.so.12: undefined symbol: __nvJitLinkComplete_12_4` (an error "
    "when an import already failed that way) or works until a kernel needs the missing "
    "symbol. gpudoctor compares where each library resolved, and what the framework child "
    "mapped, with the installed wheels.",
    fix="Remove the system CUDA folders from `LD_LIBRARY_PATH` for this environment (or "
    "`unset LD_LIBRARY_PATH`). When an environment module (Lmod, Tcl modules) put them "
    "there, `module unload NAME` (or `module purge`): the finding names the module whose "
    "install prefix, as its modulefile writes it, holds the library.",
    sources=(
        "pytorch/pytorch#134929 (undefined symbol __nvJitLinkComplete_12_4)",
        "jax-ml/jax#28929",
        "infiniflow/ragflow#4466",
    ),
)
def ld_library_path_shadowing(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    shadows = shadowed_libraries(report)
    if not shadows:
        return
    undefined = [
        fw for fw in report.frameworks if fw.status != "ok" and "undefined symbol" in fw.message
    ]
    evidence = [f"{s.who} took {s.path}; the env has {s.wheel}" for s in shadows]
    modules = {s.path: module_of(report, s.path) for s in shadows}
    evidence += [
        f"{path} comes from the loaded module {m.name}" + (f" ({m.file})" if m.file else "")
        for path, m in modules.items()
        if m is not None
    ]
    evidence += [f"{FRAMEWORK_NAMES.get(fw.name, fw.name)}: {fw.message}" for fw in undefined]
    bad_dirs = {str(PurePosixPath(s.path).parent) for s in shadows}
    value = env(report, "LD_LIBRARY_PATH") or ""
    keep = [d for d in value.split(":") if d and d.rstrip("/") not in bad_dirs]
    fix = (
        f"$ export {shell.assignment('LD_LIBRARY_PATH', ':'.join(keep), 'FOLDERS')}"
        if keep
        else "$ unset LD_LIBRARY_PATH"
    )
    names = list(dict.fromkeys(m.name for m in modules.values() if m is not None))
    if names and all(m is not None for m in modules.values()):
        # The module put the folder there: editing LD_LIBRARY_PATH lasts until the next
        # `module load`, and job scripts that load it bring it back.
        yield Hit(
            severity=Severity.ERROR if undefined else None,
            title=f"The module {', '.join(names)} shadows the CUDA libraries installed with pip",
            evidence=tuple(evidence),
            fix=(
                f"$ module unload {' '.join(shell.word(n, 'NAME') for n in names)}",
                "or start clean: $ module purge",
                "and drop the `module load` from ~/.bashrc and job scripts for this environment",
            ),
        )
        return
    yield Hit(
        severity=Severity.ERROR if undefined else None,
        evidence=tuple(evidence),
        fix=(fix,),
    )


def module_of(report: Report, path: str) -> LoadedModule | None:
    """The loaded environment module whose install prefix holds ``path`` (the longest match).

    Matched by prefix: a modulefile names its install prefix literally, while evaluating it
    (Lua or Tcl) is beyond a rule; a library under that prefix came from the module.
    """
    if report.site is None:
        return None
    best: tuple[int, LoadedModule] | None = None
    for module in report.site.modules:
        for prefix in module.prefixes:
            if path.startswith(prefix.rstrip("/") + "/") and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), module)
    return best[1] if best else None


# --- cuDNN pins -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CudnnPin:
    """A framework's Requires-Dist on a cuDNN wheel."""

    framework: FrameworkInfo
    requirement: Requirement

    @property
    def label(self) -> str:
        return FRAMEWORK_NAMES.get(self.framework.name, self.framework.name)

    @property
    def floor(self) -> Version | None:
        """The lowest version the pin allows, when it states one."""
        floors = [
            Version(s.version)
            for s in self.requirement.specifier
            if s.operator in ("==", ">=", "~=", "===") and "*" not in s.version
        ]
        return max(floors, default=None)


def cudnn_pins(report: Report) -> list[CudnnPin]:
    """The cuDNN wheel requirements of the installed frameworks."""
    pins = []
    for fw in report.frameworks:
        for line in fw.requires:
            req = requirement(line)
            if req is not None and nvidia_wheel_stem(req.name) == "nvidia-cudnn":
                pins.append(CudnnPin(fw, req))
                break
    return pins


@rule(
    "GD-CUDA-008",
    area="cuda",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="The installed cuDNN wheel does not fit what the frameworks pin",
    why="PyTorch and TensorFlow each pin the `nvidia-cudnn-cu*` wheel they were built with, "
    "and one environment holds one version of it. cuDNN refuses to run a library older than "
    "the one a framework was compiled with (`Loaded runtime CuDNN library: 9.1.0 but source "
    "was compiled with: 9.3.0`), so a pin left unsatisfied with an older cuDNN is an error; "
    "a newer minor usually works and is a warning. With both frameworks in one environment, "
    "the one installed last decides.",
    fix="Keep PyTorch and TensorFlow in separate environments (`gpudoctor make-env`), or "
    "install a cuDNN version both pins allow.",
    sources=(
        "tensorflow/tensorflow#60913 (loaded cuDNN older than compiled against)",
        "Kaggle/docker-python#1435",
        "https://docs.nvidia.com/deeplearning/cudnn/latest/reference/support-matrix.html",
    ),
)
def cudnn_mismatch(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    pins = cudnn_pins(report)
    installed = {
        canonical_name(w.name): version(w.version)
        for w in report.cuda.nvidia_wheels
        if nvidia_wheel_stem(w.name) == "nvidia-cudnn"
    }
    evidence: list[str] = []
    worst: Severity | None = None
    for pin in pins:
        have = installed.get(canonical_name(pin.requirement.name))
        evidence.append(f"{pin.label} requires {pin.requirement.name}{pin.requirement.specifier}")
        if have is None or pin.requirement.specifier.contains(have, prereleases=True):
            continue
        floor = pin.floor
        too_old = floor is not None and have < floor
        evidence.append(
            f"installed {pin.requirement.name} {have} is "
            + (f"older than {pin.label} needs" if too_old else f"outside {pin.label}'s pin")
        )
        level = Severity.ERROR if too_old else Severity.WARNING
        worst = level if worst is None else max(worst, level)
    names = {canonical_name(p.requirement.name) for p in pins}
    if len(names) > 1 and len([n for n in names if n in installed]) > 1:
        evidence.append(
            "two cuDNN wheels both provide libcudnn.so.9: whichever loads first serves both"
        )
        worst = worst or Severity.WARNING
    if worst is None:
        return
    shared = _common_version(pins)
    fix = [f"$ pip install {pins[0].requirement.name}=={shared}"] if shared else []
    fix += ["or keep them apart, one environment each:"]
    fix += [f"$ {make_env_command(report, p.framework.name)}" for p in pins]
    both = len({p.framework.name for p in pins}) > 1
    yield Hit(
        severity=worst,
        title="PyTorch and TensorFlow pin different cuDNN versions" if both else None,
        evidence=tuple(evidence),
        fix=tuple(fix),
    )


def _common_version(pins: list[CudnnPin]) -> str | None:
    """An exact pinned version that every pin on the same wheel allows, if there is one."""
    if len({canonical_name(p.requirement.name) for p in pins}) != 1:
        return None
    for pin in pins:
        for spec in pin.requirement.specifier:
            if spec.operator != "==" or "*" in spec.version:
                continue
            candidate = Version(spec.version)
            if all(p.requirement.specifier.contains(candidate, prereleases=True) for p in pins):
                return str(candidate)
    return None


# --- a cuDNN file that shadows the framework's own --------------------------------------------


def _cudnn_too_old(build: str | None, runtime: str | None) -> bool:
    """cuDNN needs the build's major and at least its minor."""
    have, want = version(runtime), version(build)
    if have is None or want is None:
        return False
    return have.release[0] != want.release[0] or have.release[:2] < want.release[:2]


def _mentions_cudnn(fw: FrameworkInfo) -> list[str]:
    texts = [fw.message, fw.init_error or "", *(d.smoke_error or "" for d in fw.devices)]
    return [t for t in texts if t and ("cudnn" in t.lower() or "dnn library" in t.lower())]


@rule(
    "GD-CUDA-011",
    area="cuda",
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="A cuDNN from LD_LIBRARY_PATH or the system shadows the framework's own",
    why="PyTorch and TensorFlow wheels bring their own cuDNN (`nvidia-cudnn-cu*`), but a "
    "`libcudnn.so` in a folder on `LD_LIBRARY_PATH` (a system CUDA such as "
    "`/usr/local/cuda-11.2/lib64`) or in the system loader's path is found first. When its "
    "version does not fit the build, the framework fails on it (`PyTorch was compiled against "
    "(8, 7, 0) but found runtime version (8, 2, 4)`, `Loaded runtime CuDNN library: 8.1.0 but "
    "source was compiled with: 8.6.0`): an error. When it fits, it works until the two drift "
    "apart: a warning. The framework probes record which cuDNN file they really mapped and the "
    "version that file itself reports (`cudnnGetVersion`), also when the framework refused it, "
    "and TensorFlow's probe runs a convolution, which goes through cuDNN.",
    fix="Take the folder out of `LD_LIBRARY_PATH` for this environment (or `unset "
    "LD_LIBRARY_PATH`); when a loaded environment module put it there, `module unload` it (the "
    "finding names it); for a system package, remove it or install the cuDNN wheel the "
    "framework pins.",
    sources=(
        "pytorch/pytorch torch/backends/cudnn/__init__.py (the version check and its message)",
        "https://docs.nvidia.com/deeplearning/cudnn/latest/reference/support-matrix.html",
    ),
)
def cudnn_shadowed(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    value = env(report, "LD_LIBRARY_PATH") or ""
    dirs = [d.rstrip("/") for d in value.split(":") if d]
    for fw in report.frameworks:
        lib = fw.cudnn_library
        if lib is None or not lib.path or lib.origin not in ("ld_library_path", "system"):
            continue
        label = FRAMEWORK_NAMES.get(fw.name, fw.name)
        own = any("nvidia-cudnn" in r.lower() for r in fw.requires)
        too_old = _cudnn_too_old(fw.build_cudnn, lib.version)
        failures = _mentions_cudnn(fw)
        if not (own or too_old or failures):
            continue  # a build made for the system's cuDNN (a distribution package)
        folder = str(PurePosixPath(lib.path).parent)
        evidence = [f"{label} loaded {lib.path} (cuDNN {lib.version or 'of unknown version'})"]
        module = module_of(report, lib.path) if folder in dirs else None
        if folder in dirs:
            evidence.append(f"{folder} is on LD_LIBRARY_PATH={value}, searched before the wheel")
        else:
            evidence.append(f"{folder} is on the system loader's path (ldconfig), not the env's")
        if module is not None:
            evidence.append(
                f"{lib.path} comes from the loaded module {module.name}"
                + (f" ({module.file})" if module.file else "")
            )
        if fw.build_cudnn:
            evidence.append(f"{label} was built with cuDNN {fw.build_cudnn}")
        evidence += failures
        keep = [d for d in value.split(":") if d and d.rstrip("/") != folder]
        if module is not None:
            # as for GD-CUDA-007: the module put the folder there, and the next `module load`
            # or job script brings it back; `unset LD_LIBRARY_PATH` also broke other modules
            fix = [
                f"$ module unload {shell.word(module.name, 'NAME')}",
                "and drop the `module load` from ~/.bashrc and job scripts for this environment",
            ]
        elif folder in dirs:
            fix = [
                f"$ export {shell.assignment('LD_LIBRARY_PATH', ':'.join(keep), 'FOLDERS')}"
                if keep
                else "$ unset LD_LIBRARY_PATH"
            ]
        else:
            fix = [f"{package_owning(report, lib.path)}   # the package to remove"]
        if fw.build_cudnn and fw.build_cuda:
            fix.append(cudnn_install(fw))
        from_module = f" (module {module.name})" if module is not None else ""
        yield Hit(
            severity=Severity.ERROR if too_old or failures else Severity.WARNING,
            title=f"{label} loads {lib.path}{from_module}, which shadows its own cuDNN",
            evidence=tuple(evidence),
            fix=tuple(fix),
        )
