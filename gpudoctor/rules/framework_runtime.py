"""Framework runtime rules: does the framework import, load its libraries, see and use the GPU?"""

from __future__ import annotations

import re
from collections.abc import Iterator

from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkInfo, Report
from gpudoctor.rules.cuda import cu_init_text, libcuda_missing
from gpudoctor.rules.facts import ask, env, gpus, make_env_command, no_nvidia_gpu, version
from gpudoctor.rules.framework_build import cuda_support, label
from gpudoctor.rules.host import parse_visible_devices
from gpudoctor.rules.registry import FRAMEWORK_NAMES, Hit, KnowledgeBase, framework_rule

_MISSING_LIB = re.compile(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file")


def _reinstall(fw: FrameworkInfo) -> str:
    if fw.name == "tensorflow":
        pinned = f"=={fw.version}" if fw.version else ""
        return f'$ pip install --force-reinstall "tensorflow[and-cuda]{pinned}"'
    return f"$ pip install --force-reinstall torch{'==' + fw.version if fw.version else ''}"


@framework_rule(
    1,
    severity=Severity.INFO,
    title="{fw} is not installed",
    why="{fw} is not installed in the inspected Python environment (or was not probed, with "
    "`--no-frameworks`), so it was not checked. That is fine when you use the other "
    "framework; `--python` inspects another interpreter.",
    fix="`gpudoctor make-env` writes an environment with a build that fits this machine.",
    marks_unchecked=True,
    include_absent=True,
)
def not_installed(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status in ("not_probed", "skipped"):
        yield Hit(
            title=f"{FRAMEWORK_NAMES[fw.name]} was not checked",
            evidence=(fw.message or "the framework probes did not run (--no-frameworks)",),
        )
    elif fw.status == "not_installed":
        yield Hit(
            evidence=(f"not installed for {report.host.python.executable}",),
            fix=(f"$ {make_env_command(report, fw.name)}",),
        )


@framework_rule(
    2,
    severity=Severity.ERROR,
    title="{fw} fails to import",
    why="Importing {fw} in a fresh child process failed or crashed. The loader's message "
    "usually names the cause: a missing CUDA library (`cannot open shared object file`), "
    "a library from another CUDA on `LD_LIBRARY_PATH` (`undefined symbol`), or a build for "
    "a newer glibc.",
    fix="Read the message in the evidence; reinstalling the framework's matching wheels, or "
    "removing foreign CUDA folders from `LD_LIBRARY_PATH`, fixes most cases.",
)
def import_failed(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status not in ("import_error", "crashed"):
        return
    message = fw.message or fw.init_error or "(no message)"
    evidence = [f"{label(fw)}: {message}"]
    fix: list[str] = []
    if "undefined symbol" in message and env(report, "LD_LIBRARY_PATH"):
        evidence.append(f"LD_LIBRARY_PATH={env(report, 'LD_LIBRARY_PATH')!r}")
        fix.append("$ unset LD_LIBRARY_PATH   # then try the import again (see GD-CUDA-007)")
    missing = _MISSING_LIB.search(message)
    if missing:
        fix.append(f"{missing.group(1)} is missing: reinstall the framework with its CUDA wheels")
    if "GLIBC" in message:
        fix.append("This build needs a newer glibc than the system has: use a conda env.")
    fix.append(_reinstall(fw))
    verb = "crashes on import" if fw.status == "crashed" else "fails to import"
    yield Hit(title=f"{label(fw)} {verb}", evidence=tuple(evidence), fix=tuple(fix))


@framework_rule(
    3,
    severity=Severity.ERROR,
    title="{fw} did not finish importing in time",
    why="The {fw} probe (import and a tiny GPU operation in a child) ran past its time "
    "limit. When NVML or CUDA timed out too, the driver is wedged; otherwise the import was "
    "slow (first import on a network file system, a cold cache) or a GPU call hung.",
    fix="Run again with `--timeout 300`; if it still hangs, check `dmesg` for Xid errors and "
    "reboot.",
)
def timed_out(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status != "timeout":
        return
    wedged = report.nvml.status == "timeout" or report.cuda.status == "timeout"
    evidence = [f"{label(fw)} probe: {fw.message or 'timed out'}"]
    if wedged:
        evidence.append("NVML or CUDA timed out as well")
        fix: tuple[str, ...] = ("$ sudo dmesg | grep -i xid", "$ sudo reboot")
        title = f"{label(fw)} hangs: the NVIDIA driver is probably wedged"
    else:
        fix = ("$ gpudoctor check --timeout 300", "$ sudo dmesg | grep -i xid")
        title = f"{label(fw)} did not finish importing in time"
    yield Hit(title=title, evidence=tuple(evidence), fix=fix)


def likely_causes(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> list[str]:
    """The facts upstream of the framework that explain why it cannot use the GPU."""
    causes = []
    visible = env(report, "CUDA_VISIBLE_DEVICES")
    if visible is not None:
        parsed = parse_visible_devices(visible, report)
        if not visible.strip() or not parsed.kept:
            causes.append(f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU (GD-HOST-001)")
    if report.nvml.status != "ok":
        causes.append(f"NVML: {report.nvml.status} (see the NVML line)")
    if libcuda_missing(report):
        causes.append("libcuda.so.1 cannot be loaded (GD-CUDA-001)")
    elif report.cuda.cu_init_result not in (None, 0):
        causes.append(f"{cu_init_text(report)} (see the CUDA line)")
    support = cuda_support(report, kb, fw)
    if support is not None and support.level == "none":
        causes.append(f"the driver cannot run CUDA {fw.build_cuda}")
    if no_nvidia_gpu(report):
        causes.append("no NVIDIA GPU on this machine (GD-DRV-001)")
    return causes


@framework_rule(
    8,
    severity=Severity.ERROR,
    title="{fw} is a GPU build but cannot use the GPU",
    why="{fw} was built with CUDA and imported, but reports no usable GPU "
    "(`torch.cuda.is_available()` False, `tf.config.list_physical_devices('GPU')` empty). "
    "The evidence lists the upstream facts that explain it (hidden devices, NVML, libcuda, "
    "`cuInit`, a driver too old for the build) and the framework's own error. On a machine "
    "with no NVIDIA GPU (GD-DRV-001) it is information: a CUDA build runs on the CPU there, "
    "and the GPU libraries it could not load (GD-TORCH-009, GD-TF-009) do not matter.",
    fix="Fix the problems named in the evidence first (they have their own entries), then "
    "run `gpudoctor check` again.",
)
def gpu_unusable(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status != "ok" or not fw.cuda_build or fw.cuda_available is not False:
        return
    if no_nvidia_gpu(report):
        evidence = [f"{label(fw)} (CUDA {fw.build_cuda or '?'}): no usable GPU"]
        if fw.init_error:
            evidence.append(f"{FRAMEWORK_NAMES.get(fw.name, fw.name)} says: {fw.init_error}")
        evidence += [f"could not load {lib.soname or lib.name}" for lib in fw.failed_libraries]
        yield Hit(
            severity=Severity.INFO,
            title=f"{label(fw)} is a CUDA build; with no NVIDIA GPU it runs on the CPU",
            evidence=(*evidence, "no NVIDIA GPU on this machine (GD-DRV-001)"),
        )
        return
    if fw.failed_libraries:
        return  # GD-<FW>-009 names the libraries
    evidence = [f"{label(fw)} (CUDA {fw.build_cuda or '?'}): no usable GPU"]
    if fw.init_error:
        evidence.append(f"{FRAMEWORK_NAMES.get(fw.name, fw.name)} says: {fw.init_error}")
    causes = likely_causes(report, kb, fw)
    evidence += [f"likely cause: {c}" for c in causes]
    probe = (
        '$ python -c "import torch; torch.cuda.init()"'
        if fw.name == "torch"
        else '$ python -c "import tensorflow as tf; '
        "print(tf.config.list_physical_devices('GPU'))\""
    )
    fix = ("Fix the causes above (each has its own finding), then run gpudoctor check again.",)
    yield Hit(evidence=tuple(evidence), fix=(*fix, probe) if not causes else fix)


@framework_rule(
    9,
    severity=Severity.ERROR,
    title="{fw} could not load some of its GPU libraries",
    why="The framework tried to open CUDA libraries by name and the loader refused some. "
    "TensorFlow then prints only `Cannot dlopen some GPU libraries` and skips the GPU; "
    "gpudoctor repeats the load of each library in a child and reports the loader's own "
    "words (which often name a *different*, transitive library such as `libnvJitLink`).",
    fix="Install the framework with its CUDA wheels (`pip install tensorflow[and-cuda]==<ver>`, "
    "or the PyTorch CUDA wheel), remove foreign CUDA folders from `LD_LIBRARY_PATH`; "
    "`TF_CPP_MAX_VLOG_LEVEL=3` shows TensorFlow's search.",
)
def libraries_failed(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if not fw.failed_libraries or fw.status == "not_installed":
        return
    if fw.status == "ok" and fw.cuda_available is False and no_nvidia_gpu(report):
        return  # without a GPU the libraries do not matter: GD-<FW>-008 says so
    names = [lib.soname or lib.name for lib in fw.failed_libraries]
    evidence = [_load_error(lib.soname or lib.name, lib.error) for lib in fw.failed_libraries]
    fix = [_reinstall(fw)]
    if env(report, "LD_LIBRARY_PATH"):
        fix.append("Remove other CUDA folders from LD_LIBRARY_PATH (see GD-CUDA-007).")
    if fw.name == "tensorflow":
        fix.append(
            '$ TF_CPP_MAX_VLOG_LEVEL=3 python -c "import tensorflow as tf; '
            "tf.config.list_physical_devices('GPU')\" 2>&1 | grep -i dlopen"
        )
    yield Hit(
        title=f"{label(fw)} could not load: {', '.join(names)}",
        evidence=tuple(evidence),
        fix=tuple(fix),
    )


@framework_rule(
    10,
    severity=Severity.ERROR,
    title="A tiny GPU computation in {fw} failed or gave wrong results",
    why="gpudoctor runs one small operation on each GPU and compares it with the CPU. A "
    "failure (`no kernel image`, an illegal memory access) or a result far from the CPU's "
    "means this framework cannot be trusted on that GPU, even though it sees it. A GPU the "
    "build has no kernels for is reported by GD-TORCH-006/GD-TF-006 instead.",
    fix="Read the error; if the result was wrong, check the GPU's health (ECC, clocks) and "
    "run `gpudoctor verify`.",
)
def smoke_failed(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status != "ok":
        return
    for dev in fw.devices:
        if dev.smoke_ok is not False or _no_kernels(kb, fw, dev.compute_capability):
            continue
        evidence = [f"device {dev.index} ({dev.name or '?'})"]
        if dev.smoke_error:
            evidence.append(f"error: {dev.smoke_error}")
        if dev.max_abs_diff is not None:
            evidence.append(f"largest difference from the CPU result: {dev.max_abs_diff:g}")
        yield Hit(
            title=f"{label(fw)}: a tiny computation on GPU {dev.index} "
            + ("failed" if dev.smoke_error else "gave wrong results"),
            evidence=tuple(evidence),
            fix=("$ gpudoctor verify", "$ nvidia-smi -q -d ECC,PERFORMANCE"),
        )


def _load_error(name: str, error: str | None) -> str:
    if not error:
        return f"{name}: not found"
    return error if error.startswith(name) else f"{name}: {error}"


def _no_kernels(kb: KnowledgeBase, fw: FrameworkInfo, cc: str | None) -> bool:
    """True when the build has no code for ``cc``: GD-<FW>-006 reports that device."""
    if not cc or not fw.arch_list:
        return False
    coverage = ask(kb.arch_coverage, cc, fw.arch_list)
    return coverage is not None and coverage.kind == "none"


def _cudnn_parts(text: str | None) -> tuple[int, ...]:
    v = version(text)
    return v.release if v is not None else ()


@framework_rule(
    11,
    severity=Severity.ERROR,
    title="{fw} loads a cuDNN older than the one it was built with",
    why="cuDNN must have the same major version and an equal or newer minor than the one the "
    "framework was compiled with (`Loaded runtime CuDNN library: 9.1.0 but source was "
    "compiled with: 9.3.0`). An older cuDNN usually comes from another framework's pinned "
    "wheel in the same env, or a system cuDNN on `LD_LIBRARY_PATH`.",
    fix="Install the cuDNN wheel the framework pins (`pip install nvidia-cudnn-cu12==<ver>`), "
    "drop stale cuDNN folders from `LD_LIBRARY_PATH`, or split frameworks into separate "
    "environments.",
)
def cudnn_runtime_old(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    build, runtime = _cudnn_parts(fw.build_cudnn), _cudnn_parts(fw.cudnn_runtime)
    if fw.status != "ok" or not build or not runtime:
        return
    same_major = build[0] == runtime[0]
    older_minor = len(build) > 1 and len(runtime) > 1 and runtime[:2] < build[:2]
    if same_major and not older_minor:
        return
    yield Hit(
        evidence=(
            f"{label(fw)} built with cuDNN {fw.build_cudnn}",
            f"loaded cuDNN {fw.cudnn_runtime}",
        ),
        fix=(
            f"$ pip install nvidia-cudnn-cu{(fw.build_cuda or '12').split('.')[0]}"
            f"=={fw.build_cudnn}   # or the version {FRAMEWORK_NAMES.get(fw.name)} pins",
            "Remove other cuDNN folders from LD_LIBRARY_PATH (see GD-CUDA-007).",
        ),
    )


@framework_rule(
    12,
    severity=Severity.WARNING,
    title="{fw} sees fewer GPUs than NVML",
    why="The framework counts fewer GPUs than NVML lists although nothing (no "
    "`CUDA_VISIBLE_DEVICES`, no MIG, no lost GPU) should hide any. Some GPUs failed to "
    "initialise for CUDA, or a device cgroup hides them.",
    fix="Compare `nvidia-smi -L` with the framework's device list and look for Xid errors in "
    "`dmesg`.",
)
def fewer_gpus(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    listed = [g for g in gpus(report) if not g.lost]
    if fw.status != "ok" or not fw.cuda_available or fw.device_count is None or not listed:
        return
    if env(report, "CUDA_VISIBLE_DEVICES") is not None or any(g.mig_enabled for g in listed):
        return
    if fw.device_count < len(listed):
        yield Hit(
            evidence=(f"{label(fw)} sees {fw.device_count} GPU(s)", f"NVML lists {len(listed)}"),
            fix=("$ nvidia-smi -L", "$ sudo dmesg | grep -i xid"),
        )
