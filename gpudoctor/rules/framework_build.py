"""Framework build rules: does the installed build fit this machine (CUDA, arch, Python, OS)?"""

from __future__ import annotations

from collections.abc import Iterator

from gpudoctor.model import shell
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkInfo, Report
from gpudoctor.model.slurm import gpu_partitions
from gpudoctor.rules.facts import (
    ask,
    driver_version,
    gpu_ccs,
    gpu_label,
    gpudoctor_start,
    has_nvidia_gpu,
    kb_os,
    major_minor,
    make_env_command,
    slurm_login_node,
    version,
)
from gpudoctor.rules.registry import (
    FRAMEWORK_NAMES,
    CudaSupportLike,
    Hit,
    KnowledgeBase,
    ReleaseLike,
    framework_rule,
)

TF_LAST_NATIVE_WINDOWS_GPU = (2, 10)
"""TensorFlow 2.10 was the last release with GPU support on native Windows."""


def label(fw: FrameworkInfo) -> str:
    """``PyTorch 2.9.1+cu128``."""
    name = FRAMEWORK_NAMES.get(fw.name, fw.name)
    return f"{name} {fw.version}" if fw.version else name


def tf_without_windows_gpu(report: Report, fw: FrameworkInfo) -> bool:
    """TensorFlow newer than 2.10 on native Windows: no GPU build exists at all."""
    release = major_minor(fw.version)
    return (
        fw.name == "tensorflow"
        and report.host.os == "windows"
        and release is not None
        and release > TF_LAST_NATIVE_WINDOWS_GPU
    )


def cuda_support(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> CudaSupportLike | None:
    """Whether this machine's driver runs the CUDA the framework was built for."""
    driver = driver_version(report)
    if not fw.build_cuda or not driver:
        return None
    return ask(kb.cuda_support, driver, fw.build_cuda, kb_os(report))


def api_level(report: Report, build_cuda: str) -> str | None:
    """``full``/``minor_compat``/``none`` from the driver's CUDA API version alone.

    Used when the driver version is unknown (a container without NVML, say): a driver runs
    every CUDA up to its API version, and newer minors of the same major (11 and later)
    through minor-version compatibility.
    """
    api = major_minor(report.cuda.driver_version or report.nvml.cuda_driver_version)
    build = major_minor(build_cuda)
    if api is None or build is None:
        return None
    if build <= api:
        return "full"
    return "minor_compat" if build[0] == api[0] and build[0] >= 11 else "none"


@framework_rule(
    {"torch": "GD-TORCH-004", "tensorflow": "GD-TF-004"},
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.INFO),
    title="{fw} is a CPU-only build on a machine with an NVIDIA GPU",
    why="The installed {fw} has no CUDA support, so it never uses the GPU. pip's default "
    "PyTorch wheels on Windows are CPU-only, `tensorflow-cpu` or TensorFlow without "
    "`[and-cuda]` has no GPU libraries, and a later `pip install` of another package can "
    "replace a CUDA build with a CPU one. A ROCm or XPU build of PyTorch (for AMD or Intel "
    "GPUs) has no CUDA either, and the finding names it as such. On a SLURM login node (no "
    "GPU here, sinfo names GPU partitions) it is information: the same environment, on a "
    "shared file system, runs the jobs on the GPU nodes, where it would not use their GPUs.",
    fix="Install a CUDA build chosen for this driver and GPU; `gpudoctor make-env` plans one.",
    sources=(
        "pytorch/pytorch#3717 (Torch not compiled with CUDA enabled)",
        "xxyzz/WordDumb#91",
        "https://www.tensorflow.org/install/pip (tensorflow[and-cuda])",
    ),
)
def cpu_only(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status != "ok" or fw.cuda_build is not False:
        return
    if not has_nvidia_gpu(report):
        yield from _cpu_only_on_login_node(report, fw)
        return
    if tf_without_windows_gpu(report, fw):
        return  # GD-TF-013 names the cause
    fix = [f"$ {make_env_command(report, fw.name)}"]
    if fw.gpu_backend in _OTHER_BUILDS:
        # a ROCm or XPU build here was called "a CPU-only build": it is one for other GPUs
        name, maker = _OTHER_BUILDS[fw.gpu_backend or ""]
        version = f" ({fw.gpu_backend_version})" if fw.gpu_backend_version else ""
        yield Hit(
            title=f"{label(fw)} is a {name} build, for {maker} GPUs, on a machine with an "
            "NVIDIA GPU",
            evidence=(
                f"{label(fw)}: built for {name}{version}, without CUDA",
                f"NVIDIA GPUs present: {len(report.nvml.gpus) or 'yes (PCI)'}",
            ),
            fix=tuple(fix),
        )
        return
    evidence = [f"{label(fw)}: built without CUDA"]
    if fw.version and "+cpu" in fw.version:
        evidence.append("the local version label +cpu marks a CPU wheel")
    evidence.append(f"NVIDIA GPUs present: {len(report.nvml.gpus) or 'yes (PCI)'}")
    wheels = tf_and_cuda(kb, fw) if fw.name == "tensorflow" and fw.version else None
    if wheels:
        fix.append(f'or, on Linux/WSL2: $ pip install "{wheels}"')
    yield Hit(evidence=tuple(evidence), fix=tuple(fix))


_OTHER_BUILDS = {"rocm": ("ROCm", "AMD"), "xpu": ("XPU", "Intel"), "mps": ("MPS", "Apple")}
"""The builds for other GPUs than NVIDIA's: the backend's name and whose GPUs it drives."""


def _cpu_only_on_login_node(report: Report, fw: FrameworkInfo) -> Iterator[Hit]:
    """A CPU build on a login node whose cluster has GPU partitions: its line read ✓
    ("CPU-only build"), and the student took the environment to the GPU nodes with it."""
    site = report.site
    if not slurm_login_node(report) or site is None:
        return
    parts = gpu_partitions(site.slurm)
    if not parts:
        return
    name = parts[0].name
    start = gpudoctor_start(report)
    yield Hit(
        severity=Severity.INFO,
        title=(
            f"{label(fw)} is a CPU-only build: run in a job on partition {name}, it will not "
            "use the GPUs there"
        ),
        evidence=(
            f"{label(fw)}: built without CUDA",
            f"this is a SLURM login node (GD-HOST-007); partition {name} has GPU nodes",
        ),
        fix=(
            f"An environment for those nodes: $ {start} make-env --partition "
            + shell.word(name, "PARTITION"),
            f"or all of it (plan, create, verify there): $ {start} onboard",
        ),
    )


@framework_rule(
    {"torch": "GD-TORCH-005", "tensorflow": "GD-TF-005"},
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="{fw} is built for a CUDA this driver cannot run",
    why="A framework built for CUDA X.Y needs a driver that supports it. From CUDA 11 on, a "
    "driver runs newer minors of its own CUDA major through *minor-version compatibility* "
    "(Linux: 12.x from 525.60.13, 13.x from 580), with some features missing, such as JIT "
    "of newer PTX: that case is a warning. A newer major (a CUDA 13 build on an R535 driver) "
    "cannot run at all: `CUDA driver version is insufficient for CUDA runtime version`, "
    "`torch.cuda.is_available()` is False. The floors come from the knowledge base "
    "(NVIDIA's CUDA release notes).",
    fix="Update the driver to at least the version named in the finding, or install a build "
    "for an older CUDA (`gpudoctor make-env` picks one).",
    sources=(
        "https://docs.nvidia.com/deploy/cuda-compatibility/ (minor-version compatibility)",
        "pytorch/pytorch#99138",
        "googlecolab/colabtools#1685",
        "gpudoctor/kb/data/cuda_drivers.toml (knowledge base)",
    ),
)
def cuda_too_new(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status != "ok" or not fw.cuda_build or not fw.build_cuda:
        return
    support = cuda_support(report, kb, fw)
    level = support.level if support is not None else api_level(report, fw.build_cuda)
    # a CUDA release newer than every one the knowledge base records (13.5 while it knows
    # 13.4): its full-support driver is not known there, only its major's MVC floor; the
    # driver's own CUDA version (cuDriverGetVersion, nvidia-smi's "CUDA Version") tells
    unrecorded = bool(
        support is not None and support.full_min_driver is None and support.mvc_min_driver
    )
    own = api_level(report, fw.build_cuda) if unrecorded else None
    if own is not None:
        level = own
    if level not in ("none", "minor_compat"):
        return
    driver = driver_version(report)
    api = report.cuda.driver_version or report.nvml.cuda_driver_version
    max_cuda = ask(kb.max_cuda_for_driver, driver, kb_os(report)) if driver else api
    evidence = [f"{label(fw)} is built for CUDA {fw.build_cuda}"]
    shown = f"driver {driver}" if driver else "the driver"
    supports = f"{shown} supports up to CUDA {max_cuda}" if max_cuda else shown
    if driver and ask(kb.past_known_branches, driver):
        # R620 while the knowledge base knows R615: 13.4 is only the newest CUDA it knows
        if api:
            supports = f"{shown} supports up to CUDA {api} (the driver's own CUDA version)"
        elif max_cuda:
            supports = (
                f"{shown} supports CUDA {max_cuda} at least (its branch is newer than every "
                "one gpudoctor's knowledge base records)"
            )
    evidence.append(supports)
    if unrecorded and own is None:
        evidence.append(
            f"CUDA {fw.build_cuda} is not in gpudoctor's knowledge base (a release newer than "
            "it records): the driver it needs for full support is not known here, and the "
            "driver's own CUDA version was not read"
        )
    full = support.full_min_driver if support is not None else None
    mvc = support.mvc_min_driver if support is not None else None
    fix = []
    if level == "none":
        if mvc:
            evidence.append(f"CUDA {fw.build_cuda} needs driver {mvc} or newer")
        fix.append(f"Update the NVIDIA driver to {mvc or full or 'a newer release'} or newer,")
        title = f"{label(fw)} needs CUDA {fw.build_cuda}, which {shown} cannot run"
        severity = None
    else:
        evidence.append(
            ("runs at least" if unrecorded and own is None else "runs")
            + " through minor-version compatibility"
            + (f" (full support from driver {full})" if full else "")
        )
        fix.append(
            f"If nvidia-smi's 'CUDA Version' is below {fw.build_cuda}, update the NVIDIA driver "
            "for full support,"
            if unrecorded and own is None
            else f"Update the NVIDIA driver to {full or 'a newer release'} for full support,"
        )
        title = f"{label(fw)} (CUDA {fw.build_cuda}) runs on {shown} " + (
            "at least through minor-version compatibility (full support not known)"
            if unrecorded and own is None
            else "only through minor-version compatibility"
        )
        severity = Severity.WARNING
    fix.append(f"or install a build for an older CUDA: $ {make_env_command(report, fw.name)}")
    yield Hit(severity=severity, title=title, evidence=tuple(evidence), fix=tuple(fix))


@framework_rule(
    {"torch": "GD-TORCH-006", "tensorflow": "GD-TF-006"},
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="{fw} has no kernels for this GPU's architecture",
    why="A CUDA build carries machine code (SASS, `sm_XY`) for a list of GPU architectures "
    "and sometimes PTX (`compute_XY`) the driver can compile at first use. SASS runs on GPUs "
    "of the same major with an equal or higher minor; PTX runs on any newer GPU; Jetson "
    "GPUs (5.3, 6.2, 7.2, 8.7) run only their own code. With no match the GPU fails with "
    "`no kernel image is available for execution on the device` (an error); with PTX only, "
    "the first run JIT-compiles the kernels (which can take minutes) and kernels shipped "
    "without PTX are missing (a warning), unless the JIT in fact fails on the GPU: the "
    "smoke test failed there, or the driver runs the build's CUDA only through minor-version "
    "compatibility, which cannot JIT newer PTX (`CUDA_ERROR_UNSUPPORTED_PTX_VERSION`, "
    "*the provided PTX was compiled with an unsupported toolchain*); then the framework "
    "cannot use the GPU at all (an error). Example: a GTX 1080 Ti (6.1) "
    "on a `cu128` PyTorch wheel (7.0 and up).",
    fix="Install a build whose arch list covers the GPU (`gpudoctor make-env` checks this); "
    "for PyTorch, Pascal and Maxwell need the `cu126` wheels, Blackwell needs `cu128` or "
    "newer.",
    sources=(
        "pytorch/pytorch torch/cuda/__init__.py (the arch check and its warning)",
        "pytorch/pytorch#150733",
        "astral-sh/uv#14742",
        "https://docs.nvidia.com/deploy/cuda-compatibility/ (minor-version compatibility and PTX)",
        "https://github.com/yerfor/GeneFacePlusPlus/issues/192 (unsupported PTX toolchain; "
        "resolution: a newer driver)",
        "gpudoctor/kb/data/torch.toml and tensorflow.toml (knowledge base: arch lists)",
    ),
)
def arch_not_covered(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status != "ok" or not fw.cuda_build or not fw.arch_list:
        return
    ccs = {cc: [gpu_label(g) for g in found] for cc, found in gpu_ccs(report).items()}
    if not ccs:
        for dev in fw.devices:
            if dev.compute_capability:
                ccs.setdefault(dev.compute_capability, []).append(dev.name or f"GPU {dev.index}")
    arch = " ".join(fw.arch_list)
    for cc, names in ccs.items():
        coverage = ask(kb.arch_coverage, cc, fw.arch_list)
        if coverage is None or coverage.kind not in ("none", "ptx_jit"):
            continue
        sm = "sm_" + cc.replace(".", "")
        evidence = [f"{', '.join(names)}: compute capability {cc} ({sm})", f"arch list: {arch}"]
        fix = (f"$ {make_env_command(report, fw.name)}",)
        if coverage.kind == "none" and ask(kb.gpu_build_covers, cc) is False:
            # Kepler's CC 3.0: make-env would only say that nothing fits, on any driver
            last = ask(kb.last_cuda_for_cc, cc)
            fix = (
                f"No PyTorch or TensorFlow GPU build gpudoctor's knowledge base records has code "
                f"for compute capability {cc}"
                + (f" (CUDA {last} is the last CUDA that builds for it)" if last else "")
                + ": on this GPU, train on the CPU (`gpudoctor make-env --cpu` plans that "
                "environment), or use a newer GPU.",
            )
        if coverage.kind == "none":
            evidence += [
                f"confirmed on device {d.index}: {d.smoke_error}"
                for d in fw.devices
                if d.compute_capability == cc and d.smoke_error
            ]
            yield Hit(
                title=f"{label(fw)} has no kernels for compute capability {cc} ({sm})",
                evidence=tuple(evidence),
                fix=fix,
            )
        else:
            evidence.append(f"only PTX {coverage.matched} covers it: compiled at first use")
            # The usual form is a warning (slow first run); a JIT that in fact failed on this
            # GPU leaves the framework unable to use it, which is an error.
            failed = [
                f"the JIT failed on device {d.index}: {d.smoke_error}"
                for d in fw.devices
                if d.compute_capability == cc and d.smoke_ok is False and d.smoke_error
            ]
            support = cuda_support(report, kb, fw)
            level = support.level if support is not None else api_level(report, fw.build_cuda or "")
            if level == "minor_compat":
                # Minor-version compatibility runs the build's SASS but cannot JIT PTX newer
                # than the driver: the only code for this GPU cannot run.
                failed.append(
                    f"the driver runs CUDA {fw.build_cuda} only through minor-version "
                    "compatibility, which cannot JIT the build's newer PTX "
                    "(CUDA_ERROR_UNSUPPORTED_PTX_VERSION)"
                )
            newer = support.full_min_driver if support is not None else None
            driver_fix = (
                (
                    f"Update the NVIDIA driver to {newer or 'a newer release'} or newer (the JIT "
                    "needs a driver as new as the build's CUDA),",
                )
                if level == "minor_compat"
                else ()
            )
            yield Hit(
                severity=Severity.ERROR if failed else Severity.WARNING,
                title=f"{label(fw)} cannot run on compute capability {cc}: its PTX JIT fails"
                if failed
                else f"{label(fw)} runs on compute capability {cc} only through PTX JIT",
                evidence=(*evidence, *failed),
                fix=(*driver_fix, *fix),
            )


def release_of(kb: KnowledgeBase, fw: FrameworkInfo) -> ReleaseLike | None:
    """The knowledge base's row for the installed release."""
    if not fw.version:
        return None
    query = kb.torch_release if fw.name == "torch" else kb.tensorflow_release
    return ask(query, fw.version)


TF_AND_CUDA = "tensorflow[and-cuda]"
"""The pip requirement whose extra brings TensorFlow's CUDA wheels (2.14 and later)."""


def tf_and_cuda(kb: KnowledgeBase, fw: FrameworkInfo) -> str | None:
    """``tensorflow[and-cuda]==2.20.0``: what pip installs this TensorFlow with its CUDA wheels,
    pinned to the public version (PyPI has no ``+label``); unpinned when the version is not
    known. None for a release the knowledge base has no and-cuda build of (before 2.14): pip
    only warns that it ``does not provide the extra 'and-cuda'`` and installs no CUDA library."""
    if not fw.version:
        return TF_AND_CUDA
    release = release_of(kb, fw)
    if release is None or not any(v.package == TF_AND_CUDA for v in release.variants):
        return None
    public = version(fw.version)
    return f"{TF_AND_CUDA}=={public.public if public else fw.version}"


@framework_rule(
    {"torch": "GD-TORCH-007", "tensorflow": "GD-TF-007"},
    severity=Severity.WARNING,
    title="The Python version is outside what {fw} supports",
    why="Each {fw} release publishes wheels for a range of Python versions (from the "
    "knowledge base: PyTorch's RELEASE.md and TensorFlow's tested configurations, and the "
    "wheels on PyPI where they differ: PyTorch 2.13 and 2.14 list Python 3.15 but publish no "
    "cp315 wheel). Outside that range pip finds no wheel (or an old one), and an installed "
    "build is untested.",
    fix="Use a Python inside the range, e.g. a new environment from `gpudoctor make-env`.",
    sources=(
        "https://github.com/pytorch/pytorch/blob/main/RELEASE.md#release-compatibility-matrix",
        "https://www.tensorflow.org/install/source#gpu",
        "https://pypi.org/simple/torch/ (the cp3XX tags of each release's wheels)",
        "gpudoctor/kb/data/torch.toml and tensorflow.toml (knowledge base: Python ranges)",
    ),
)
def python_range(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status == "not_installed":
        return
    release = release_of(kb, fw)
    python = fw.python_version or report.host.python.version
    py = major_minor(python)
    if release is None or py is None:
        return
    low, high = major_minor(release.python_min), major_minor(release.python_max)
    if (low is None or py >= low) and (high is None or py <= high):
        return
    span = f"{release.python_min or '?'} to {release.python_max or '?'}"
    yield Hit(
        title=f"Python {py[0]}.{py[1]} is outside {label(fw)}'s supported range ({span})",
        evidence=(f"Python {python}", f"{label(fw)} supports Python {span}"),
        fix=(f"$ {make_env_command(report, fw.name)}",),
    )


@framework_rule(
    {"tensorflow": "GD-TF-013"},
    severity=Severity.ERROR,
    title="TensorFlow newer than 2.10 has no GPU support on native Windows",
    why="TensorFlow 2.10 was the last release with GPU support on native Windows; every newer "
    "one runs on the CPU there, whatever is installed. GPU TensorFlow on Windows means WSL2, "
    "or TensorFlow 2.10 with CUDA 11.2 and cuDNN 8.1 (Python 3.10 at most).",
    fix="Run TensorFlow inside WSL2 (`pip install 'tensorflow[and-cuda]'` there), or install "
    "`tensorflow<2.11` with `cudatoolkit=11.2 cudnn=8.1.0` from conda-forge, into a Python "
    "3.10 or older (`gpudoctor make-env --framework tensorflow` writes such an environment "
    "where the inspected Python is newer).",
    sources=(
        "https://www.tensorflow.org/install/pip#windows-native",
        "tensorflow/tensorflow v2.11.1 release notes (2.10 was the last with GPU on native "
        "Windows)",
    ),
)
def tf_native_windows(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status == "not_installed" or not tf_without_windows_gpu(report, fw):
        return
    if not has_nvidia_gpu(report):
        return
    yield Hit(
        evidence=(f"{label(fw)} on native Windows", "NVIDIA GPU present"),
        fix=(
            "Use WSL2; in PowerShell:",
            "> wsl --install",
            'then inside it: $ pip install "tensorflow[and-cuda]"',
            _tf210_natively(report, fw),
        ),
    )


def _tf210_natively(report: Report, fw: FrameworkInfo) -> str:
    """TensorFlow 2.10 on native Windows: into this environment where its Python is 3.10 or
    older; else an environment make-env writes (pip finds no 2.10 wheel for a newer Python)."""
    python = fw.python_version or report.host.python.version
    parts = python.split(".") if python else []
    if len(parts) >= 2 and parts[0] == "3" and parts[1].isdigit() and int(parts[1]) <= 10:
        return (
            "or TensorFlow 2.10 natively: $ conda install -c conda-forge cudatoolkit=11.2 "
            'cudnn=8.1.0 && pip install "tensorflow<2.11"'
        )
    shown = f"Python {python}" if python else "this Python"
    return (
        f"or TensorFlow 2.10 natively, which has no wheel for {shown} (3.10 at most), in an "
        f"environment with Python 3.10: $ {make_env_command(report, 'tensorflow')}"
    )
