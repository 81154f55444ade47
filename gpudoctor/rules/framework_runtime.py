"""Framework runtime rules: does the framework import, load its libraries, see and use the GPU?"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

from gpudoctor.errors import BadInputError
from gpudoctor.model import shell
from gpudoctor.model.derived import all_excluded
from gpudoctor.model.findings import Severity
from gpudoctor.model.report import FrameworkInfo, Report
from gpudoctor.rules.cuda import CU_UNKNOWN, cu_init_text, libcuda_missing
from gpudoctor.rules.facts import (
    ask,
    container_without_host_gpu,
    env,
    gpu_label,
    gpudoctor_start,
    gpus,
    make_env_command,
    no_nvidia_gpu,
    version,
)
from gpudoctor.rules.framework_build import cuda_support, label, tf_and_cuda
from gpudoctor.rules.hardware_log import xid_step
from gpudoctor.rules.host import parse_visible_devices
from gpudoctor.rules.messages import import_explained, import_explained_elsewhere
from gpudoctor.rules.packaging import cudnn_install
from gpudoctor.rules.registry import FRAMEWORK_NAMES, Hit, KnowledgeBase, framework_rule

_MISSING_LIB = re.compile(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file")


_LOCAL_INDEX = re.compile(r"^(cu\d+|cpu|rocm[\d.]+|xpu)$")
"""Local version labels of PyTorch's own indexes (``2.9.1+cu128`` is on .../whl/cu128 only)."""


def _reinstall(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> str:
    if fw.name == "tensorflow":
        wheels = tf_and_cuda(kb, fw)
        if wheels is None:  # before 2.14: no [and-cuda] extra, CUDA came from conda
            parsed = version(fw.version)
            pin = f" --tensorflow {parsed.public}" if parsed else ""
            return (
                f"{label(fw)} has no [and-cuda] extra (2.14 and later have): its CUDA and "
                f"cuDNN come from conda; plan them with $ {make_env_command(report, fw.name)}"
                f"{pin}"
            )
        return f'$ pip install --force-reinstall "{wheels}"'
    if not fw.version:
        return "$ pip install --force-reinstall torch"
    # PyPI has no 2.9.1+cu128: a local label means the build came from PyTorch's index, and
    # `==2.9.1` matches 2.9.1+cu128 there (a pin without a label matches any label).
    public, _, local = fw.version.partition("+")
    if local and _LOCAL_INDEX.match(local):
        return (
            f"$ pip install --force-reinstall torch=={public} "
            f"--index-url https://download.pytorch.org/whl/{local}"
        )
    return f"$ pip install --force-reinstall torch=={fw.version}"


@framework_rule(
    {"torch": "GD-TORCH-001", "tensorflow": "GD-TF-001"},
    severity=Severity.INFO,
    # The catalogue's name covers both of its hits: a fleet lists it once for nodes of each.
    title="{fw} is not installed or was not checked",
    why="{fw} is not installed in the inspected Python environment (or was not probed, with "
    "`--no-frameworks`), so it was not checked. That is fine when you use the other "
    "framework; `--python` inspects another interpreter. On macOS, where make-env plans "
    "nothing, the fix is pip's own line: PyPI's torch, which can use the Apple GPU through "
    "MPS, and TensorFlow, which runs on the CPU there.",
    fix="`gpudoctor make-env` writes an environment with a build that fits this machine (on "
    "macOS: `python3 -m pip install torch`).",
    marks_unchecked=True,
    include_absent=True,
    sources=(
        "https://pytorch.org/get-started/locally/",
        "https://www.tensorflow.org/install/pip",
    ),
)
def not_installed(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status in ("not_probed", "skipped"):
        yield Hit(
            title=f"{FRAMEWORK_NAMES[fw.name]} was not checked",
            evidence=(fw.message or "the framework probes did not run (--no-frameworks)",),
        )
    elif fw.status == "not_installed":
        yield Hit(
            title=f"{FRAMEWORK_NAMES[fw.name]} is not installed",
            evidence=(f"not installed for {report.host.python.executable}",),
            fix=(
                _MAC_INSTALL[fw.name]
                if report.host.os == "darwin"  # make-env plans nothing for macOS
                else f"$ {make_env_command(report, fw.name)}",
            ),
        )


_MAC_INSTALL = {
    "torch": "$ python3 -m pip install torch   # PyPI's macOS wheels can use the Apple GPU (MPS)",
    "tensorflow": "$ python3 -m pip install tensorflow   # on macOS it runs on the CPU",
}


@framework_rule(
    {"torch": "GD-TORCH-002", "tensorflow": "GD-TF-002"},
    severity=Severity.ERROR,
    title="{fw} fails to import",
    why="Importing {fw} in a fresh child process failed or crashed, with a message the "
    "catalogue of known failure messages (gpudoctor/kb/data/import_errors.toml) does not "
    "match; a message it matches gets the finding of its cause instead (GD-HOST-034 to "
    "GD-HOST-036, GD-TORCH-015 to GD-TORCH-017, GD-CUDA-033). Where that finding is on "
    "another line (a glibc, libstdc++ or CPU cause on the Host line, mixed cuDNN files on the "
    "CUDA line), this one stays on the framework's line and names it, so that a framework "
    "which cannot be imported never shows as fine. The loader's message "
    "usually names the cause: a missing CUDA library (`cannot open shared object file`), "
    "a library from another CUDA on `LD_LIBRARY_PATH` (`undefined symbol`), or a build for "
    "a newer glibc.",
    fix="Read the message in the evidence; reinstalling the framework's matching wheels, or "
    "removing foreign CUDA folders from `LD_LIBRARY_PATH`, fixes most cases.",
    sources=(
        "pytorch/pytorch#134929 (import fails on an undefined symbol)",
        "tensorflow/tensorflow#45200",
    ),
)
def import_failed(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status not in ("import_error", "crashed"):
        return
    verb = "crashes on import" if fw.status == "crashed" else "fails to import"
    elsewhere = import_explained_elsewhere(fw, kb)
    if elsewhere:  # the cause's finding is on another line: this line must not read as fine
        named = ", ".join(f"{fid} on the {line} line" for fid, line in elsewhere)
        what = "crashed while importing" if fw.status == "crashed" else "did not import"
        yield Hit(
            title=f"{label(fw)} {verb}: the cause is {named}",
            evidence=(
                f"{label(fw)} {what}; the message is quoted under "
                f"{', '.join(fid for fid, _ in elsewhere)}",
            ),
            fix=(f"Fix {named} first, then run gpudoctor check again.",),
        )
        return
    if import_explained(fw, kb):
        return  # a message the catalogue knows gets its own finding (rules/import_errors.py)
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
    fix.append(_reinstall(report, kb, fw))
    yield Hit(title=f"{label(fw)} {verb}", evidence=tuple(evidence), fix=tuple(fix))


NVML_SLOW_S = 10.0
"""Seconds; an NVML probe slower than this (it usually takes well under one) hints at the driver."""

_WITHIN = re.compile(r"did not answer within (\d+(?:\.\d+)?) s")
_IMPORT_CHECK = {
    "torch": ("import torch", "import torch; torch.zeros(1).cuda()"),
    "tensorflow": (
        "import tensorflow",
        "import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))",
    ),
}
_NVML_FAULTS = ("unknown_error", "gpu_is_lost", "reset_required", "irq_issue")
"""NVML start-up failures that mean a GPU or the driver is in a bad state (GD-NVML-007)."""


@dataclass(frozen=True)
class _Stalled:
    """What the report shows about a framework probe that ran out of time."""

    limit_s: float | None
    """The time limit, as the probe's message states it."""
    stuck_in_kernel: bool
    """The probe process could not be killed: it sat in uninterruptible sleep in the kernel."""


def _stalled(fw: FrameworkInfo) -> _Stalled:
    match = _WITHIN.search(fw.message)
    return _Stalled(
        limit_s=float(match.group(1)) if match else None,
        stuck_in_kernel="could not be killed" in fw.message,
    )


def _probe_seconds(report: Report, name: str) -> float | None:
    """How long the probe ``name`` took, when it finished."""
    for run in report.probes:
        if run.name == name and run.status == "ok":
            return run.duration_s
    return None


def _interpreter(report: Report) -> str | None:
    """The inspected interpreter's path, spelled to be pasted; None when unknown or redacted."""
    exe = report.host.python.executable
    if not exe or "<" in exe or not shell.printable(exe) or exe.startswith("-"):
        return None
    if report.host.os == "windows":
        return f'"{exe}"' if " " in exe else exe
    return shlex.quote(exe)


def _time_by_hand(report: Report, code: str) -> str:
    """A command that times ``python -c CODE`` with the inspected interpreter.

    The interpreter's path is spelled out where it can be pasted (a POSIX shell, not redacted).
    """
    if report.host.os == "windows":
        return f'> Measure-Command {{ python -c "{code}" }}'
    return f'$ time {_interpreter(report) or "python"} -c "{code}"'


def _check_again(report: Report, limit_s: int) -> str:
    """``gpudoctor check`` again with a larger limit, on the interpreter the report inspected.

    The report does not record the command line, only the interpreter whose frameworks were
    probed (gpudoctor's own or the one given with ``--python``), so ``--python`` names it:
    the command then checks the same frameworks either way.
    """
    python = _interpreter(report)
    if python is None:
        return f"Run the same gpudoctor check command again with --timeout {limit_s}."
    prompt = "> " if report.host.os == "windows" else "$ "
    return f"{prompt}{gpudoctor_start(report)} check --python {python} --timeout {limit_s}"


def _timeout_fact(fw: FrameworkInfo, stalled: _Stalled, *, gpu_step: bool) -> str:
    """What happened, in the report's own terms (and none of the probe's guesses at why)."""
    what = f"import {fw.name}" + (" (and a tiny GPU computation)" if gpu_step else "")
    if stalled.limit_s is not None:
        fact = f"{what} did not finish within {stalled.limit_s:g} s"
    elif fw.duration_s:
        fact = f"{what} was stopped after {fw.duration_s:.0f} s"
    else:
        fact = f"{what} ran past its time limit"
    return f"{FRAMEWORK_NAMES.get(fw.name, fw.name)} probe: {fact}"


def _retry(report: Report, fw: FrameworkInfo, stalled: _Stalled) -> list[str]:
    """Run again with more time (while more is allowed) and time the import by hand."""
    steps = []
    if stalled.limit_s is None or stalled.limit_s < 300:
        steps.append(_check_again(report, 300))
    elif stalled.limit_s < 600:
        steps.append(_check_again(report, 600))
    steps.append(_time_by_hand(report, _IMPORT_CHECK[fw.name][0]))
    return steps


def _gpu_faults(report: Report) -> list[str]:
    """The GPU and driver faults the report shows, each with the finding that reports it."""
    found = [
        f"{gpu_label(gpu)} is lost (GD-GPU-001)"
        for gpu in gpus(report)
        if gpu.lost or any(e.code == "gpu_is_lost" for e in gpu.errors)
    ]
    nvml = report.nvml
    probe_broke = any(e.code == "probe_failed" for e in nvml.errors)
    if nvml.status in _NVML_FAULTS and not probe_broke:
        found.append(f"NVML failed to start: {nvml.status} (GD-NVML-007)")
    if report.cuda.cu_init_result == CU_UNKNOWN:
        found.append("cuInit failed with CUDA_ERROR_UNKNOWN (GD-CUDA-002)")
    return found


def _driver_timings(report: Report) -> str | None:
    """How fast NVML and cuInit answered in their own probes, when they did: the bare facts."""
    nvml_s, cuda_s = _probe_seconds(report, "nvml"), _probe_seconds(report, "cuda")
    said = []
    if report.nvml.status == "ok" and nvml_s is not None:
        said.append(f"NVML answered in {nvml_s:.1f} s")
    if report.cuda.status == "ok" and report.cuda.cu_init_result == 0 and cuda_s is not None:
        said.append(f"cuInit succeeded in {cuda_s:.1f} s")
    return " and ".join(said) or None


_D_STATE = "$ ps -eo pid,stat,wchan:32,cmd | awk '$2 ~ /^D/'"


@framework_rule(
    {"torch": "GD-TORCH-003", "tensorflow": "GD-TF-003"},
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING),
    title="The {fw} probe did not finish in time",
    why="The {fw} probe (import in a child process, then a tiny GPU computation when there is "
    "a GPU) ran past its time limit (`--timeout`), so it recorded nothing about the framework, "
    "not even which of the two steps it was in. The finding says no more than the rest of the "
    "report shows. On a machine without an NVIDIA GPU (GD-DRV-001) no NVIDIA driver is "
    "involved: the import was slow or stuck (a slow or network file system, a first import "
    "that compiles and caches files, a broken install), a warning. With a GPU it is an error "
    "when the report shows the driver or a GPU in trouble: cuInit or NVML timed out as well "
    "(GD-CUDA-006, GD-NVML-005: the driver is probably wedged); the probe process could not "
    "even be killed (it is stuck inside the kernel: a wedged NVIDIA driver or a hung network "
    "file system, and the kernel function it waits in tells which); or a GPU is lost or the "
    "driver reports a fault (GD-GPU-001, GD-NVML-007, GD-CUDA-002), which the timeout may come "
    "from. NVML taking over 10 s to answer hints at the driver (a warning). Otherwise it is a "
    "warning, with how fast NVML and cuInit answered as evidence: the import or the first GPU "
    "use was slow (kernels compiled at first use for a GPU the build has no code for, "
    "GD-TORCH-006/GD-TF-006) or stuck.",
    fix="Run the same `gpudoctor check` command again with a larger limit (`--timeout 300`; "
    "the finding's command names the inspected interpreter with `--python`) and time the "
    'import by hand (`time python -c "import torch"`, or `tensorflow`). When the driver is '
    "implicated, look for Xid errors (`sudo dmesg | grep -i xid`) and reboot.",
    sources=(
        "docs/probes.md (each probe's time limit)",
        "NVIDIA/open-gpu-kernel-modules#507 (a process stuck in the driver)",
    ),
)
def timed_out(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status != "timeout":
        return
    stalled = _stalled(fw)
    name = label(fw)
    if no_nvidia_gpu(report):
        yield _timed_out_without_gpu(report, fw, stalled)
        return
    fact = _timeout_fact(fw, stalled, gpu_step=True)
    hung = [
        (what, rule_id)
        for what, rule_id, status in (
            ("cuInit", "GD-CUDA-006", report.cuda.status),
            ("NVML", "GD-NVML-005", report.nvml.status),
        )
        if status == "timeout"
    ]
    if hung:
        yield Hit(
            title=f"{name} timed out, and so did {' and '.join(w for w, _ in hung)}: "
            "the NVIDIA driver is probably wedged",
            evidence=(fact, *(f"{what} timed out as well ({rule_id})" for what, rule_id in hung)),
            fix=(xid_step(report), "$ sudo reboot"),
        )
        return
    faults = _gpu_faults(report)
    if stalled.stuck_in_kernel:
        yield Hit(
            title=f"The {name} probe is stuck inside the kernel: the NVIDIA driver may be wedged",
            evidence=(
                fact,
                "the probe process could not be killed: it waits inside the kernel, where a "
                "wedged driver or a hung network file system holds a process",
                *(f"the report also shows: {fault}" for fault in faults),
            ),
            fix=(
                "See what the stuck processes wait on (nv… is the NVIDIA driver, nfs… a file "
                "system):",
                _D_STATE,
                xid_step(report),
                "If they wait in the NVIDIA driver or dmesg shows Xid errors: reboot.",
            ),
        )
        return
    timings = _driver_timings(report)
    if faults:
        yield Hit(
            title=f"The {name} probe timed out, and the report shows a GPU or driver fault",
            evidence=(
                fact,
                *(f"{fault}: the timeout may come from it" for fault in faults),
                *((timings,) if timings else ()),
            ),
            fix=(
                "Deal with the fault first (its own finding gives the steps), then run the "
                "check again:",
                xid_step(report),
                *_retry(report, fw, stalled),
            ),
        )
        return
    nvml_s = _probe_seconds(report, "nvml")
    if nvml_s is not None and nvml_s >= NVML_SLOW_S:
        yield Hit(
            severity=Severity.WARNING,
            title=f"The {name} probe did not finish in time, and NVML was slow too",
            evidence=(
                fact,
                f"NVML took {nvml_s:.1f} s to answer (a healthy driver answers within a few "
                "seconds): the driver may be in trouble",
            ),
            fix=(xid_step(report), *_retry(report, fw, stalled)),
        )
        return
    yield Hit(
        severity=Severity.WARNING,
        title=f"The {name} probe did not finish in time",
        evidence=(fact, *((timings,) if timings else ())),
        fix=(
            "The import or the first GPU use was slow or stuck: a slow or network file system, "
            "a first import, a broken install, or GPU kernels compiled at first use.",
            *_retry(report, fw, stalled),
            _time_by_hand(report, _IMPORT_CHECK[fw.name][1]),
        ),
    )


def _timed_out_without_gpu(report: Report, fw: FrameworkInfo, stalled: _Stalled) -> Hit:
    """No NVIDIA GPU, so no NVIDIA driver to blame: the import itself was slow or stuck."""
    fact = _timeout_fact(fw, stalled, gpu_step=False)
    no_gpu = "no NVIDIA GPU on this machine (GD-DRV-001): no NVIDIA driver is involved"
    if stalled.stuck_in_kernel:
        return Hit(
            title=f"The {label(fw)} probe is stuck inside the kernel while importing",
            evidence=(
                fact,
                "the probe process could not be killed: it waits inside the kernel, typically "
                "on a hung network file system",
                no_gpu,
            ),
            fix=(
                "See what the stuck processes wait on (nfs… is a network file system):",
                _D_STATE,
                "$ mount -t nfs,nfs4,cifs,fuse.sshfs",
            ),
        )
    return Hit(
        severity=Severity.WARNING,
        title=f"The {label(fw)} probe did not finish in time: the import was slow or stuck",
        evidence=(fact, no_gpu),
        fix=(
            "A slow or network file system, a first import (Python compiles and caches the "
            "framework's files) or a broken install makes an import slow or hang.",
            *_retry(report, fw, stalled),
        ),
    )


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
    causes += [
        f"GPU {g.index} is a vGPU without a licence: CUDA is restricted (GD-GPU-016)"
        for g in gpus(report)
        if g.virtualization_mode == "vgpu" and g.vgpu_licensed is False
    ]
    return causes


@framework_rule(
    {"torch": "GD-TORCH-008", "tensorflow": "GD-TF-008"},
    severity=Severity.ERROR,
    severities=(Severity.ERROR, Severity.WARNING, Severity.INFO),
    # The catalogue's title, which fleet report shows beside nodes with no GPU too; a machine
    # with a GPU it cannot use is told so in its own title below.
    title="{fw} is a GPU build and finds no usable GPU",
    why="{fw} was built with CUDA and imported, but reports no usable GPU "
    "(`torch.cuda.is_available()` False, `tf.config.list_physical_devices('GPU')` empty). "
    "The evidence lists the upstream facts that explain it (hidden devices, NVML, libcuda, "
    "`cuInit`, a driver too old for the build) and the framework's own error. On a machine "
    "with no NVIDIA GPU (GD-DRV-001) it is information: a CUDA build runs on the CPU there, "
    "and the GPU libraries it could not load (GD-TORCH-009, GD-TF-009) do not matter. In a "
    "container that shows no GPU of its host (a PCI bus that could not be read, or under WSL2 "
    "no `/dev/dxg`) and has no driver libraries it is a warning, as GD-NVML-001 is there: the "
    "host may have no GPU. Where the admin excluded every GPU from the driver "
    "(`NVreg_ExcludedGpus`) it is a warning too, as GD-CUDA-004 is: nothing is broken.",
    fix="Fix the problems named in the evidence first (they have their own entries), then "
    "run `gpudoctor check` again.",
    sources=(
        "pytorch/pytorch#88639 (is_available() False while nvidia-smi works)",
        "tensorflow/tensorflow#63362 (Skipping registering GPU devices)",
    ),
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
    if all_excluded(report):
        # set aside by the admin (GD-GPU-070, GD-CUDA-004 say so): nothing to fix here
        yield Hit(
            severity=Severity.WARNING,
            title=f"{label(fw)} is a CUDA build, but the admin excluded every GPU from the "
            "driver (NVreg_ExcludedGpus): it runs on the CPU here",
            evidence=tuple(evidence),
            fix=(
                "Nothing, if the GPUs were set aside on purpose: use another machine for GPU "
                "work (GD-CUDA-004 says how to take one back).",
            ),
        )
        return
    if container_without_host_gpu(report):
        # NVML and CUDA say so as warnings: the host (Windows, under WSL2) may have no GPU
        host = "Windows" if report.host.wsl else "the host"
        yield Hit(
            severity=Severity.WARNING,
            title=f"{label(fw)} is a CUDA build, but this container shows no GPU: it runs on "
            "the CPU here",
            evidence=tuple(evidence),
            fix=(f"If {host} has an NVIDIA GPU, start the container with it: see the NVML line.",),
        )
        return
    if causes:
        fix: tuple[str, ...] = (
            "Fix the causes above (each has its own finding), then run gpudoctor check again.",
        )
    else:  # nothing upstream explains it: the framework's own error is the lead
        fix = ("No other finding explains it; the framework's own error says more:", probe)
    yield Hit(
        title=f"{FRAMEWORK_NAMES.get(fw.name, fw.name)} is a GPU build but cannot use the GPU",
        evidence=tuple(evidence),
        fix=fix,
    )


@framework_rule(
    {"torch": "GD-TORCH-009", "tensorflow": "GD-TF-009"},
    severity=Severity.ERROR,
    title="{fw} could not load some of its GPU libraries",
    why="The framework tried to open CUDA libraries by name and the loader refused some. "
    "TensorFlow then prints only `Cannot dlopen some GPU libraries` and skips the GPU; "
    "gpudoctor repeats the load of each library in a child and reports the loader's own "
    "words (which often name a *different*, transitive library such as `libnvJitLink`).",
    fix="Install the framework with its CUDA wheels (`pip install 'tensorflow[and-cuda]==VERSION'` "
    "for TensorFlow 2.14 and later, whose extra it is; an older one takes CUDA from conda, "
    "which `gpudoctor make-env` plans; or the PyTorch CUDA wheel), remove foreign CUDA folders "
    "from `LD_LIBRARY_PATH`; "
    "`TF_CPP_MAX_VLOG_LEVEL=3` shows TensorFlow's search.",
    sources=(
        "tensorflow/tensorflow#45200 (Could not load dynamic library)",
        "tensorflow/tensorflow#63362",
        "tensorflow/tensorflow#65842",
    ),
)
def libraries_failed(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if not fw.failed_libraries or fw.status == "not_installed":
        return
    if fw.status == "ok" and fw.cuda_available is False and no_nvidia_gpu(report):
        return  # without a GPU the libraries do not matter: GD-<FW>-008 says so
    names = [lib.soname or lib.name for lib in fw.failed_libraries]
    evidence = [_load_error(lib.soname or lib.name, lib.error) for lib in fw.failed_libraries]
    fix = [_reinstall(report, kb, fw)]
    if env(report, "LD_LIBRARY_PATH"):
        fix.append("Remove other CUDA folders from LD_LIBRARY_PATH (see GD-CUDA-007).")
    if fw.name == "tensorflow":
        fix.append(
            '$ TF_CPP_MAX_VLOG_LEVEL=3 python -c "import tensorflow as tf; '
            "tf.config.list_physical_devices('GPU')\" 2>&1 | grep -iE 'dynamic library|dlopen'"
        )
    yield Hit(
        title=f"{label(fw)} could not load: {', '.join(names)}",
        evidence=tuple(evidence),
        fix=tuple(fix),
    )


@framework_rule(
    {"torch": "GD-TORCH-010", "tensorflow": "GD-TF-010"},
    severity=Severity.ERROR,
    title="A tiny GPU computation in {fw} failed or gave wrong results",
    why="gpudoctor runs one small operation on each GPU and compares it with the CPU. A "
    "failure (`no kernel image`, an illegal memory access) or a result far from the CPU's "
    "means this framework cannot be trusted on that GPU, even though it sees it. A GPU the "
    "build has no kernels for is reported by GD-TORCH-006/GD-TF-006 instead.",
    fix="Read the error; if the result was wrong, check the GPU's health (ECC, clocks) and "
    "run `gpudoctor verify`. On a ROCm build (an AMD GPU), check with `rocminfo` that ROCm "
    "lists the GPU and that the ROCm release supports its gfx target.",
    sources=(
        "pytorch/pytorch#150733 (no kernel image is available for execution on the device)",
        "NVIDIA/DCGM nvvs (a small GPU workload as a health check)",
        "https://rocm.docs.amd.com/projects/install-on-linux/en/latest/reference/"
        "system-requirements.html (the GPUs, by gfx target, each ROCm release supports)",
    ),
)
def smoke_failed(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status != "ok":
        return
    start = gpudoctor_start(report)
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
            fix=_ROCM_SMOKE_FIX
            if fw.gpu_backend == "rocm"  # an AMD GPU: nvidia-smi has nothing to say of it
            else (f"$ {start} verify", "$ nvidia-smi -q -d ECC,PERFORMANCE"),
        )


_ROCM_SMOKE_FIX = (
    "The GPU is AMD's, run by ROCm: check that ROCm lists it and its gfx target:",
    "$ rocminfo",
    "and that this ROCm release supports that target: https://rocm.docs.amd.com/projects/"
    "install-on-linux/en/latest/reference/system-requirements.html",
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
    {"torch": "GD-TORCH-011", "tensorflow": "GD-TF-011"},
    severity=Severity.ERROR,
    title="{fw} loads a cuDNN its build cannot use (older, or another major version)",
    why="cuDNN must have the same major version and an equal or newer minor than the one the "
    "framework was compiled with (`Loaded runtime CuDNN library: 9.1.0 but source was "
    "compiled with: 9.3.0`). An older cuDNN usually comes from another framework's pinned "
    "wheel in the same env, or a system cuDNN on `LD_LIBRARY_PATH`.",
    fix="Install the cuDNN wheel the framework pins (`pip install nvidia-cudnn-cu12==VERSION`), "
    "drop stale cuDNN folders from `LD_LIBRARY_PATH`, or split frameworks into separate "
    "environments.",
    sources=(
        "tensorflow/tensorflow#60913",
        "Kaggle/docker-python#1435",
        "googlecolab/colabtools#2626",
        "pytorch/pytorch torch/backends/cudnn/__init__.py (the version check)",
    ),
)
def cudnn_runtime_old(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    build, runtime = _cudnn_parts(fw.build_cudnn), _cudnn_parts(fw.cudnn_runtime)
    if fw.status != "ok" or not build or not runtime:
        return
    same_major = build[0] == runtime[0]
    older_minor = len(build) > 1 and len(runtime) > 1 and runtime[:2] < build[:2]
    if same_major and not older_minor:
        return
    common = min(len(build), len(runtime))
    relation = "older than" if runtime[:common] < build[:common] else "another major version than"
    yield Hit(
        title=f"{label(fw)} loads cuDNN {fw.cudnn_runtime}, {relation} the "
        f"{fw.build_cudnn} it was built with",
        evidence=(
            f"{label(fw)} built with cuDNN {fw.build_cudnn}",
            f"loaded cuDNN {fw.cudnn_runtime}",
        ),
        fix=(
            cudnn_install(fw),
            "Remove other cuDNN folders from LD_LIBRARY_PATH (see GD-CUDA-011).",
        ),
    )


@framework_rule(
    {"torch": "GD-TORCH-012", "tensorflow": "GD-TF-012"},
    severity=Severity.WARNING,
    title="{fw} sees fewer GPUs than NVML",
    why="The framework counts fewer GPUs than NVML lists although nothing (no "
    "`CUDA_VISIBLE_DEVICES`, no MIG, no lost GPU) should hide any. Some GPUs failed to "
    "initialise for CUDA, or a device cgroup hides them.",
    fix="Compare `nvidia-smi -L` with the framework's device list and look for Xid errors in "
    "`dmesg`.",
    sources=(
        "https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#env-vars "
        "(CUDA_VISIBLE_DEVICES)",
        "pytorch/pytorch#102715 (MIG: device_count() is 1)",
    ),
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
            fix=("$ nvidia-smi -L", xid_step(report)),
        )


@framework_rule(
    {"torch": "GD-TORCH-014"},
    severity=Severity.WARNING,
    title="numpy is missing next to {fw}: gpudoctor verify cannot run",
    why="{fw} imports and runs without numpy, and `pip install torch` (from PyPI or the CPU "
    "index, without torchvision) does not install it; but `gpudoctor verify` needs it for every "
    "model (it compares outputs as numpy arrays), and so do `torch.from_numpy`, `Tensor.numpy()` "
    "and most data loading. The probe imports numpy in the same Python as the framework: it is "
    "not installed there, or it fails to import (a half install, a build for another ABI).",
    fix="`pip install numpy` in the same environment (`pip install 'numpy<2'` for PyTorch "
    "before 2.3, built against numpy 1.x); for a numpy that fails to import, `pip install "
    "--force-reinstall numpy`.",
    sources=(
        "https://pypi.org/project/torch/ (Requires-Dist: no numpy)",
        "https://pytorch.org/docs/stable/generated/torch.from_numpy.html",
    ),
)
def numpy_missing(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> Iterator[Hit]:
    if fw.status != "ok" or fw.numpy_error is None:
        return
    python = report.host.python.executable or "python3"
    broken = fw.numpy_error != "not installed"
    evidence: tuple[str, ...] = (
        f"{label(fw)} imports, but numpy does not: {fw.numpy_error}",
        f"Python: {python}",
    )
    numpy = _numpy_for(report, kb, fw)
    if numpy != "numpy":  # a plain `pip install numpy` takes numpy 2, which this build cannot use
        evidence = (*evidence, f"{label(fw)} was built against numpy 1.x: {numpy}")
    if broken:
        title = f"numpy fails to import next to {label(fw)}: `gpudoctor verify` cannot run"
        fix = f"$ {shlex.quote(python)} -m pip install --force-reinstall {shlex.quote(numpy)}"
    else:
        title = f"numpy is missing next to {label(fw)}: `gpudoctor verify` cannot run"
        fix = f"$ {shlex.quote(python)} -m pip install {shlex.quote(numpy)}"
    yield Hit(title=title, evidence=evidence, fix=(fix,))


def _numpy_for(report: Report, kb: KnowledgeBase, fw: FrameworkInfo) -> str:
    """The numpy requirement that fits ``fw``: ``numpy<2`` for a build against numpy 1.x
    (PyTorch before 2.3, [[numpy_max]] in torch.toml), else ``numpy``."""
    platform = "win-64" if report.host.os == "windows" else "linux-64"
    try:
        limit = kb.numpy_max(fw.name, fw.version, platform) if fw.version else None
    except BadInputError:  # a version in a report that is no PEP 440 version
        return "numpy"
    return "numpy" if limit is None else limit.requirement
