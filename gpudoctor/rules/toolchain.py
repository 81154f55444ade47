"""Toolchain rules: what building against PyTorch needs (nvcc of its CUDA, libcuda, a compiler)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath

from gpudoctor.model import shell
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkInfo, Report, ToolchainInfo
from gpudoctor.rules.distro import install_compiler
from gpudoctor.rules.facts import env, version
from gpudoctor.rules.framework_build import label
from gpudoctor.rules.registry import Hit, KnowledgeBase, rule

MISMATCH = (
    "The detected CUDA version ({nvcc}) mismatches the version that was used to compile "
    "PyTorch ({torch}). Please make sure to use the same CUDA versions."
)
"""torch.utils.cpp_extension's CUDA_MISMATCH_MESSAGE, which it raises when the majors differ."""
TRITON_LIBCUDA = "libcuda.so cannot found!"
"""Triton's assertion (triton/backends/nvidia/driver.py, libcuda_dirs) when it finds no
libcuda.so.1 in the linker cache, TRITON_LIBCUDA_PATH or LD_LIBRARY_PATH."""
C_COMPILERS = ("cc", "gcc", "clang")
"""What Triton tries after ``CC`` (triton/runtime/build.py)."""


def _gpu_torch(report: Report) -> FrameworkInfo | None:
    """PyTorch when it is a working CUDA build: the only framework these rules concern."""
    fw = report.framework("torch")
    if fw is None or fw.status != "ok" or not fw.cuda_build:
        return None
    return fw


def _major(text: str | None) -> int | None:
    v = version(text)
    return v.release[0] if v is not None and v.release else None


@rule(
    "GD-CUDA-012",
    area="cuda",
    severity=Severity.WARNING,
    title="CUDA extensions cannot be built: nvcc's CUDA differs from PyTorch's",
    why="Packages that compile CUDA code against PyTorch at install time (flash-attn, apex, "
    "xformers and most research repositories' `setup.py`) build with the toolkit that "
    "`torch.utils.cpp_extension` finds: `CUDA_HOME`, else `CUDA_PATH`, else the directory "
    "above `nvcc` on PATH, else `/usr/local/cuda`. When that `nvcc`'s CUDA major differs from "
    "the one PyTorch was built with, the build stops with *The detected CUDA version (X) "
    "mismatches the version that was used to compile PyTorch (Y)*. Training with the "
    "installed packages is unaffected; only building fails, hence a warning. gpudoctor runs "
    "`nvcc --version` of that toolkit (bounded) and compares the majors as PyTorch does; a "
    "minor difference only makes PyTorch warn.",
    fix="Build with a toolkit of PyTorch's CUDA: install it next to the other one and point "
    "`CUDA_HOME` (and `PATH`) at it, or install the PyTorch build for the toolkit's CUDA; a "
    "prebuilt wheel of the extension for the installed PyTorch avoids the build altogether.",
    sources=(
        "pytorch/pytorch torch/utils/cpp_extension.py (_check_cuda_version, CUDA_MISMATCH_MESSAGE)",
        "https://github.com/Dao-AILab/flash-attention/issues/219 (resolution: nvcc of "
        "PyTorch's CUDA)",
        "https://github.com/Dao-AILab/flash-attention/issues/1759",
        "https://github.com/PKUHaoWang/EmbodiedOcc2/issues/6 (resolution: PyTorch of the "
        "toolkit's CUDA)",
    ),
)
def nvcc_mismatch(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    tc, fw = report.toolchain, _gpu_torch(report)
    if tc is None or fw is None or not tc.nvcc_version or not fw.build_cuda:
        return
    nvcc_major, torch_major = _major(tc.nvcc_version), _major(fw.build_cuda)
    if nvcc_major is None or torch_major is None or nvcc_major == torch_major:
        return
    build = fw.build_cuda
    short = ".".join(build.split(".")[:2])
    # found as /usr/local/cuda itself, the how and the where are one path: say it once
    where = (
        tc.cuda_home
        if tc.cuda_home_from in (None, tc.cuda_home)
        else f"{tc.cuda_home_from}: {tc.cuda_home}"
    )
    yield Hit(
        title=f"CUDA extensions cannot be built: nvcc is CUDA {tc.nvcc_version}, "
        f"{label(fw)} was built with CUDA {build}",
        evidence=(
            f"{tc.nvcc}: CUDA {tc.nvcc_version} (the toolkit from {where})",
            f"{label(fw)}: built with CUDA {build}",
            "building an extension stops with: "
            + MISMATCH.format(nvcc=tc.nvcc_version, torch=build),
        ),
        fix=(
            f"Build with a CUDA {short} toolkit, as PyTorch was (NVIDIA's runfile into "
            f"/usr/local/cuda-{short}), then:",
            f"$ export CUDA_HOME=/usr/local/cuda-{short} PATH=/usr/local/cuda-{short}/bin:$PATH",
            # In a conda environment the toolkit lands in the environment, not /usr/local.
            f"or in a conda environment: $ conda install -c nvidia cuda-toolkit={short} "
            "&& export CUDA_HOME=$CONDA_PREFIX",
            # PyTorch compares majors only (a minor difference warns): any cuNN build of that
            # major fits, and few releases have a build for the toolkit's exact minor.
            f"or install a PyTorch build for CUDA {nvcc_major} (any {nvcc_major}.x build: "
            "PyTorch compares only the major; https://pytorch.org/get-started/locally/ lists "
            "the index of each CUDA).",
        ),
    )


def _libcuda_dir(report: Report) -> str | None:
    path = report.cuda.libcuda_path
    return str(PurePosixPath(path).parent) if path else None


def _ld_library_path_has(report: Report, folder: str | None) -> bool:
    value = env(report, "LD_LIBRARY_PATH") or ""
    return folder is not None and folder in [p.rstrip("/") for p in value.split(":") if p]


@rule(
    "GD-CUDA-013",
    area="cuda",
    severity=Severity.WARNING,
    title="torch.compile cannot find libcuda: the linker cache has no libcuda.so.1",
    why="`torch.compile` generates Triton kernels, and Triton links its launcher against the "
    "driver's `libcuda`, which it looks for in `TRITON_LIBCUDA_PATH`, else in the linker "
    "cache (`/sbin/ldconfig -p`, for `libcuda.so.1`), else in the folders of "
    "`LD_LIBRARY_PATH`. A driver installed "
    "outside the cached folders (Colab's `/usr/lib64-nvidia`, a container or Apptainer "
    "image whose cache was not refreshed) works for PyTorch's eager mode, which `dlopen`s "
    "`libcuda.so.1` by its path, yet every compiled model fails with `AssertionError: "
    "libcuda.so cannot found!`. A warning: eager training runs. Older Triton releases also "
    "needed an unversioned `libcuda.so` (`/usr/bin/ld: cannot find -lcuda`); the report "
    "lists every `libcuda` entry of the cache.",
    fix="Add the driver's folder to the linker cache (`echo DIR | sudo tee "
    "/etc/ld.so.conf.d/libcuda.conf && sudo ldconfig`), or without root `export "
    "TRITON_LIBCUDA_PATH=DIR`.",
    sources=(
        "https://github.com/pytorch/pytorch/issues/107960 (resolution: ldconfig /usr/lib64-nvidia)",
        "triton-lang/triton third_party/nvidia/backend/driver.py (libcuda_dirs)",
        "https://github.com/triton-lang/triton/pull/2019",
        "https://github.com/state-spaces/mamba/issues/123 (TRITON_LIBCUDA_PATH)",
    ),
)
def libcuda_not_cached(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    tc, fw = report.toolchain, _gpu_torch(report)
    if tc is None or fw is None or not tc.ldconfig_read or report.host.os != "linux":
        return
    if any(e.startswith("libcuda.so.1 ") for e in tc.libcuda_cache):
        return
    if env(report, "TRITON_LIBCUDA_PATH"):
        return
    folder = _libcuda_dir(report)
    if folder is None or _ld_library_path_has(report, folder):
        return  # no driver at all (other findings), or Triton finds it through LD_LIBRARY_PATH
    cached = ", ".join(tc.libcuda_cache) or "none"
    yield Hit(
        evidence=(
            f"libcuda.so.1 loads from {report.cuda.libcuda_path}",
            f"ldconfig -p lists no libcuda.so.1 (libcuda entries: {cached})",
            "TRITON_LIBCUDA_PATH is not set and LD_LIBRARY_PATH does not name that folder",
            f"torch.compile on the GPU stops with: AssertionError: {TRITON_LIBCUDA}",
        ),
        fix=(
            f"$ echo {shell.word(folder, 'FOLDER')} | sudo tee /etc/ld.so.conf.d/libcuda.conf "
            "&& sudo ldconfig",
            "or without root: $ export "
            + shell.assignment("TRITON_LIBCUDA_PATH", folder, "FOLDER"),
        ),
    )


def _c_compiler(tc: ToolchainInfo) -> bool:
    return any(c.name in C_COMPILERS for c in tc.compilers)


@rule(
    "GD-CUDA-014",
    area="cuda",
    severity=Severity.WARNING,
    title="No C compiler: torch.compile and CUDA extensions cannot build",
    why="Triton compiles a small C launcher for every kernel signature the first time it "
    "runs, with `CC` or else the first of `cc`, `gcc` and `clang` on PATH; without one, "
    "`torch.compile` on the GPU stops with *Failed to find C compiler. Please specify via "
    "CC environment variable.* Building a CUDA extension needs a C++ compiler too. Eager "
    "PyTorch does not compile anything, so this is a warning. Checked on Linux for a CUDA "
    "build of PyTorch.",
    fix="Install gcc and g++ (`build-essential` on Debian and Ubuntu, `gcc gcc-c++` on "
    "Fedora and the RHEL family; without root, `conda install -c conda-forge gcc gxx`), or "
    "point `CC` at a compiler.",
    sources=(
        "triton-lang/triton python/triton/runtime/build.py (_build: the C compiler)",
        "https://github.com/apple/ml-cross-entropy/issues/5 (Triton requires a working C compiler)",
        "https://github.com/kijai/ComfyUI-HunyuanVideoWrapper/issues/23 (resolution: "
        "apt-get install build-essential)",
    ),
)
def no_compiler(report: Report, kb: KnowledgeBase) -> Iterator[Hit]:
    tc, fw = report.toolchain, _gpu_torch(report)
    if tc is None or fw is None or report.host.os != "linux":
        return
    if _c_compiler(tc) or env(report, "CC"):
        return
    have = ", ".join(c.name for c in tc.compilers) or "none"
    yield Hit(
        evidence=(
            f"no cc, gcc or clang on PATH, and CC is not set (compilers found: {have})",
            f"{label(fw)} compiles GPU kernels with Triton in torch.compile",
            "torch.compile stops with: Failed to find C compiler. Please specify via CC "
            "environment variable.",
        ),
        fix=(
            *install_compiler(report),
            "without root: $ conda install -c conda-forge gcc gxx",
        ),
    )
