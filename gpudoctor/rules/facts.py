"""Small questions the rules ask of a report: which driver, which GPUs, which OS, which variable."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TypeVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from gpudoctor.errors import BadInputError
from gpudoctor.model import shell
from gpudoctor.model.derived import (
    NOT_APPLICABLE,
    env,
    gpus,
    no_nvidia_evidence,
    no_nvidia_gpu,
    not_applicable,
    not_applicable_words,
    nvidia_traces,
    pci_bus_unreadable,
    slurm_login_node,
    slurm_unanswered,
    wsl_name,
)
from gpudoctor.model.report import GpuInfo, Report
from gpudoctor.rules.registry import Hit, KnowledgeBase

T = TypeVar("T")

_DRIVER = re.compile(r"^\d{3,4}(\.\d{1,3}){0,2}$")


def ask(query: Callable[..., T], *args: object) -> T | None:
    """A knowledge-base answer, or None when the report's version strings are not usable.

    A report replayed from another machine may hold versions the knowledge base cannot parse
    (a nightly, a local build); that is "unknown", not bad input to this command.
    """
    try:
        return query(*args)
    except (BadInputError, ValueError, LookupError):
        return None


def driver_version(report: Report) -> str | None:
    """The NVIDIA driver version: NVML's, else the kernel module's."""
    for value in (report.nvml.driver_version, report.driver.module_version):
        if value and _DRIVER.match(value.strip()):
            return value.strip()
    return None


def kb_os(report: Report) -> str:
    """The OS whose driver tables apply: ``windows`` for Windows and WSL2, else ``linux``.

    Under WSL2 the Windows driver serves CUDA, and NVML reports its (Windows) version.
    """
    return "windows" if report.host.os == "windows" or report.host.wsl else "linux"


def is_linux_host(report: Report) -> bool:
    """A Linux kernel that owns the GPU (not WSL2, where the Windows driver does)."""
    return report.host.os == "linux" and not report.host.wsl


def has_nvidia_gpu(report: Report) -> bool:
    """True when NVML or the PCI bus shows at least one NVIDIA GPU."""
    return bool(gpus(report)) or bool(report.driver.pci_functions)


def host_gpu_evidence(report: Report) -> tuple[str, ...]:
    """Why a container's host probably has an NVIDIA GPU (empty when nothing says so)."""
    found = list(nvidia_traces(report))
    visible = env(report, "NVIDIA_VISIBLE_DEVICES")
    if visible is not None:
        found.append(f"NVIDIA_VISIBLE_DEVICES={visible!r}")
    return tuple(found)


def _start(kb: KnowledgeBase, runtime: str, template: str) -> tuple[str, ...]:
    """``template`` with the knowledge base's command for ``runtime`` (containers.toml) put in
    for ``{start}`` and its note for ``{detail}``; nothing where the table has no row."""
    row = kb.gpu_start(runtime)
    if row is None:
        return ()
    return (template.format(start=row.start, detail=row.detail),)


def apptainer_fix(kb: KnowledgeBase) -> tuple[str, ...]:
    """Apptainer's ``--nv``."""
    return (
        "Apptainer/Singularity binds the driver's libraries and /dev/nvidia* only with --nv, "
        "given before the image name:",
        *_start(kb, "apptainer", "$ {start}   # {detail}"),
    )


def kubernetes_fix(kb: KnowledgeBase) -> tuple[str, ...]:
    """A pod's GPU limit, and how to see whether the cluster offers one."""
    return (
        *_start(
            kb,
            "kubernetes",
            "Ask for a GPU in the pod spec (the NVIDIA device plugin then mounts it): {start}",
        ),
        "$ kubectl describe node NODE | grep nvidia.com/gpu   # nodes that offer GPUs",
        "If no node lists nvidia.com/gpu, the cluster runs no NVIDIA device plugin (or GPU "
        "Operator), which exposes the GPUs to pods: its admin deploys it",
    )


def podman_fix(kb: KnowledgeBase) -> tuple[str, ...]:
    """Podman reads the GPU from a CDI specification, not from Docker's runtime
    configuration."""
    return (
        *_start(kb, "podman", "Start the container with the GPU through CDI: {start}"),
        "On the host, once: install nvidia-container-toolkit and write its CDI specification "
        "(toolkit 1.18 and later keep one in /var/run/cdi by itself)",
        "$ sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml",
    )


def docker_start(kb: KnowledgeBase, runtime: str = "docker") -> tuple[str, ...]:
    """``Start the container with GPU access: docker run --gpus all ...``: Docker's line, which
    a runtime the probe could not name is told too."""
    return _start(kb, runtime, "Start the container with GPU access: {start}")


def docker_fix(kb: KnowledgeBase, runtime: str = "docker") -> tuple[str, ...]:
    """Docker's ``--gpus``, and the toolkit it needs on the host."""
    return (
        *docker_start(kb, runtime),
        "On the host, once: install nvidia-container-toolkit, then",
        "$ sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker",
    )


WSL1_FIX = (
    "WSL 1 has no GPU support: CUDA runs in WSL 2 only. Convert this distribution in "
    "PowerShell (the list names it and shows its VERSION):",
    "> wsl -l -v",
    "> wsl --set-version DISTRO 2",
)


SUDO_CHECK = 'sudo "$(command -v gpudoctor)" check'
"""gpudoctor check as root, run by its path: sudo looks a command up in its secure_path
(``/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`` in Debian's and Ubuntu's
sudoers), where a gpudoctor in a virtual environment or ~/.local/bin (pip --user, pipx, uv
tool) is not: ``sudo gpudoctor check`` answered ``command not found`` there."""


def sudo_check(report: Report) -> str:
    """SUDO_CHECK for the machine of ``report``: where gpudoctor ran as ``python -m
    gpudoctor`` with no ``gpudoctor`` on PATH, ``$(command -v gpudoctor)`` is empty there and
    the line read ``sudo "" check``; the interpreter's path is one sudo runs as it is."""
    start = gpudoctor_start(report)
    return SUDO_CHECK if start == "gpudoctor" else f"sudo {start} check"


WSL_LINUX_DRIVER = (
    "See which NVML the loader finds (the Windows driver's is /usr/lib/wsl/lib):",
    "$ ldconfig -p | grep -E 'libnvidia-ml|libcuda'",
    "If another path is listed, a Linux driver is installed inside WSL: remove it",
    "$ sudo apt-get remove --purge 'libnvidia-compute-*' 'nvidia-driver-*' "
    "'nvidia-utils-*' && sudo ldconfig",
)
"""Under WSL2, how to find and remove a Linux driver installed inside WSL, whose NVML took
the place of the Windows driver's."""


WSL_RESTART = (
    "WSL2 has no nvidia kernel module to reload; restart the WSL 2 virtual machine from "
    "PowerShell (after a Windows driver update, or if that does not help, restart Windows):",
    "> wsl --shutdown",
)
"""Under WSL2, what reloading the module or rebooting is on Linux."""


def on_the_host(report: Report, steps: tuple[str, ...]) -> tuple[str, ...]:
    """``steps`` that load, reload or rebuild the driver, or reboot, said to be the host's
    inside a container (which shares the host's kernel and cannot do them itself)."""
    if not report.host.container:
        return steps
    return (
        "On the host, not in this container (it shares the host's kernel and driver; on a "
        "shared machine the admin does this):",
        *steps,
    )


def on_wsl1(report: Report) -> bool:
    """WSL 1, which has no GPU (model.derived.wsl_name says how it is known)."""
    return wsl_name(report) == "WSL 1"


def wsl1_hit(report: Report, *said: str) -> Hit:
    """What NVML's and CUDA's rules say under WSL 1, after ``said`` (what failed there)."""
    return Hit(
        title="This is WSL 1, which has no GPU support",
        evidence=(
            *said,
            f"kernel {report.host.kernel}: WSL 1 (WSL 2's ends -microsoft-standard-WSL2)",
        ),
        fix=WSL1_FIX,
    )


def docker_run(kb: KnowledgeBase) -> str:
    """Docker's command from the knowledge base (containers.toml), without its note: the
    note speaks of a Linux host's toolkit, which Docker Desktop under WSL2 does not need."""
    row = kb.gpu_start("docker")
    return row.start if row is not None else "docker run --gpus all ..."


def wsl_container_fix(kb: KnowledgeBase) -> tuple[str, ...]:
    """How a container under WSL2 is given the GPU: Docker Desktop's WSL 2 backend, or Docker
    Engine inside the distribution with NVIDIA's toolkit."""
    return (
        f"Start the container with GPU access: {docker_run(kb)} (Docker Desktop's WSL 2 "
        "backend needs only the Windows NVIDIA driver)",
        "Docker Engine installed inside this WSL 2 distribution instead: install "
        "nvidia-container-toolkit in the distribution (never a Linux driver), then",
        "$ sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker",
    )


def wsl_dxg_fix(kb: KnowledgeBase) -> tuple[str, ...]:
    """A container under WSL2 given /dev/dxg but not the Windows driver's libraries."""
    return (
        f"Start it with {docker_run(kb)}: under WSL2 NVIDIA's container runtime then "
        "passes /dev/dxg and mounts the Windows driver's libraries from /usr/lib/wsl; --device "
        "/dev/dxg alone gives the device without them",
        "Docker Desktop needs its WSL 2 based engine and the Windows NVIDIA driver; Docker Engine "
        "installed inside this WSL 2 distribution needs nvidia-container-toolkit there, then",
        "$ sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker",
        "If it was started so: install or update the NVIDIA driver on Windows (its WSL 2 support "
        "provides libcuda), then in PowerShell:",
        "> wsl --shutdown",
    )


def wsl_gpu_device(report: Report) -> bool:
    """True where a container under WSL2 was given WSL2's GPU device, ``/dev/dxg``: the sign
    that it was started with the GPU (WSL2 never shows the GPU in /sys)."""
    return bool(report.host.container and report.host.wsl and report.host.dxg)


def container_without_host_gpu(report: Report) -> bool:
    """True in a container without the driver's libraries that shows no GPU of its host:
    nothing NVIDIA in /sys, /dev or NVML, and under WSL2 no /dev/dxg, while the PCI bus could
    not be read or, under WSL2, never shows one. The host may have no GPU at all, so
    GD-NVML-001 and GD-CUDA-001 are warnings there, and so is a CUDA build's GD-TORCH-008."""
    return (
        bool(report.host.container)
        and report.nvml.status == "library_not_found"
        and not nvidia_traces(report)
        and not wsl_gpu_device(report)
        and not no_nvidia_gpu(report)
    )


def container_gpu_fix(report: Report, kb: KnowledgeBase) -> tuple[str, ...] | None:
    """How this container's runtime is given the GPU, where it is not Docker's ``--gpus`` on a
    Linux host (under WSL2 the host is a WSL distribution or Docker Desktop)."""
    if report.host.container == "apptainer":
        return apptainer_fix(kb)
    if report.host.container == "kubernetes":
        return kubernetes_fix(kb)
    if report.host.container == "podman":
        return podman_fix(kb)
    if wsl_docker(report):
        return wsl_container_fix(kb)
    return None


def wsl_docker(report: Report) -> bool:
    """A container under WSL2 that is not Apptainer's, a pod or Podman's: Docker Desktop's
    or Docker Engine's, given the GPU as :func:`wsl_container_fix` says."""
    return bool(report.host.wsl) and report.host.container not in (
        "apptainer",
        "kubernetes",
        "podman",
    )


def gpu_label(gpu: GpuInfo) -> str:
    """``GPU 0 (NVIDIA H100 80GB HBM3)``."""
    return f"GPU {gpu.index} ({gpu.name})" if gpu.name else f"GPU {gpu.index}"


def gpu_ccs(report: Report) -> dict[str, list[GpuInfo]]:
    """The compute capabilities present, each with its GPUs, in index order."""
    found: dict[str, list[GpuInfo]] = {}
    for gpu in gpus(report):
        if gpu.compute_capability:
            found.setdefault(gpu.compute_capability, []).append(gpu)
    return found


def visible_index(token: str) -> int | None:
    """A ``CUDA_VISIBLE_DEVICES`` entry as the index CUDA reads (``3``, ``-1``), or None when it
    is no index: CUDA reads ASCII digits, and a number beyond 19 digits is read as 10**19,
    an index no GPU has (int() refuses more than 4,300 digits, and '²' passes str.isdigit())."""
    digits = token.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        return None
    value = int(digits) if len(digits) <= 19 else 10**19
    return -value if token.startswith("-") else value


@functools.lru_cache(maxsize=1024)  # every node of a fleet has the same framework's lines
def requirement(line: str) -> Requirement | None:
    """A ``Requires-Dist`` line parsed (shared: nothing changes one), or None when invalid or
    when a version it pins is none packaging can compare.

    packaging parses a specifier's version only when it first compares one, so a pin such as
    ``==2.<5,000 digits>`` parsed as a requirement and raised ValueError (int() refuses more
    than 4,300 digits) inside a rule: each version is compared once here instead.
    """
    try:
        req = Requirement(line)
        for spec in req.specifier:
            spec.contains("0", prereleases=True)
    except (InvalidRequirement, ValueError):
        return None
    return req


@functools.lru_cache(maxsize=1024)  # the same strings in every report of a fleet
def version(text: str | None) -> Version | None:
    """A parsed version (local labels such as ``+cu126`` kept), or None."""
    if not text:
        return None
    try:
        return Version(text.strip())
    except ValueError:  # InvalidVersion, or a part longer than int() converts (4,300 digits)
        return None


def major_minor(text: str | None) -> tuple[int, int] | None:
    """``(12, 6)`` from ``12.6`` or ``12.6.3``; None for a bare major or garbage."""
    v = version(text)
    if v is None or len(v.release) < 2:
        return None
    return v.release[0], v.release[1]


@functools.lru_cache(maxsize=1024)  # the same few wheel names in every report of a fleet
def canonical_name(name: str) -> str:
    """A package name as PEP 503 compares it (``nvidia_nccl_cu12`` -> ``nvidia-nccl-cu12``)."""
    return canonicalize_name(name)


@functools.lru_cache(maxsize=1024)
def nvidia_wheel_stem(name: str) -> str:
    """``nvidia-cudnn-cu12`` -> ``nvidia-cudnn``: the wheel without its CUDA-major suffix."""
    norm = re.sub(r"[-_.]+", "-", name.lower())
    return re.sub(r"-cu\d+$", "", norm)


def gpudoctor_start(report: Report) -> str:
    """How a command a fix prints starts gpudoctor where ``report`` was made
    (:func:`gpudoctor.model.shell.gpudoctor`, spelled for Windows on a Windows report)."""
    return shell.gpudoctor(report.host.gpudoctor_command, windows=report.host.os == "windows")


def with_gpudoctor(report: Report, command: str) -> str:
    """``command`` (``gpudoctor ...``) started as gpudoctor was started where ``report`` was
    made (:func:`gpudoctor_start`)."""
    start = gpudoctor_start(report)
    if start == "gpudoctor" or not command.startswith("gpudoctor "):
        return command
    return start + command[len("gpudoctor") :]


def make_env_command(report: Report, framework: str | None = None) -> str:
    """The ``gpudoctor make-env`` command line that plans an environment for this machine.

    The planner spells out the target (driver, compute capability, OS) so the command works
    anywhere, also from a replayed report; when it cannot, the bare command (make-env then
    probes the machine it runs on) is the fallback.
    """
    from gpudoctor.envplan.suggest import suggest_command

    try:
        # the planner writes `gpudoctor make-env ...`: started here as `python -m gpudoctor`
        # from a venv not on PATH, that command failed (host.gpudoctor_command)
        return with_gpudoctor(report, suggest_command(report, framework))
    except BadInputError:
        # a framework name from the report that make-env does not know: make-env then picks
        parts = [gpudoctor_start(report), "make-env"]
        known = framework in ("torch", "tensorflow", "both")
        return " ".join([*parts, "--framework", framework] if framework and known else parts)


__all__ = [
    "NOT_APPLICABLE",
    "env",
    "gpudoctor_start",
    "gpus",
    "no_nvidia_evidence",
    "no_nvidia_gpu",
    "not_applicable",
    "not_applicable_words",
    "nvidia_traces",
    "pci_bus_unreadable",
    "slurm_login_node",
    "slurm_unanswered",
]
